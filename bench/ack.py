"""Benchmark 1: webhook acknowledgement — open loop at fixed rates, then closed-loop saturation, per target.

Lost = answered 200 but not in the UPDATES stream (durable designs) or never handled (in-memory designs).
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import partial
from typing import Any

from bench import meters, procs, wrk
from bench.targets import TARGETS, Running, Target

RATES: tuple[tuple[int, float], ...] = ((200, 6.0), (1000, 6.0), (5000, 5.0))  # (updates/s, seconds)
WARMUP_RATE, WARMUP_SECONDS = 500, 2.0
SATURATION_SECONDS = 6.0
SATURATION_CONNECTIONS = 100  # Telegram's highest max_connections


def run_loadgen(port: int, rate: float, duration: float, first_update_id: int, **extra: Any) -> dict[str, Any]:
    """One run of bench.loadgen pinned to the load core; its JSON result."""
    argv = [*procs.pinned(procs.LOAD_CORE), procs.PYTHON, "-m", "bench.loadgen", "--port", str(port),
            "--rate", str(rate), "--duration", str(duration), "--first-update-id", str(first_update_id)]  # fmt: skip
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    out = subprocess.run(
        argv, capture_output=True, text=True, env=procs.clean_env(), timeout=duration + 60, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cpu_per_update(cpu_seconds: dict[str, float], requests: int) -> dict[str, float | None]:
    """CPU microseconds per request of the server and of nats-server: unlike rates, barely moved by neighbours."""

    def per(name: str) -> float | None:
        return cpu_seconds[name] / requests * 1e6 if name in cpu_seconds and requests else None

    return {"server_cpu_us": per("server"), "nats_cpu_us": per("nats-server")}


def _open_loop_row(
    target: Target, running: Running, rate: int, seconds: float, first_id: int, attempt: int
) -> dict[str, Any]:
    first_id += attempt * 500_000  # a repeated run sends new update ids
    before = running.settled_count()
    idle_before = meters.wait_for_quiet()
    with meters.AwakeCores() as awake:  # open loop: the cores would idle between requests
        meter, machine = meters.CpuMeter(running.processes()), meters.SystemMeter()
        result = run_loadgen(running.port, rate, seconds, first_id)
        shares, cpu = meter.shares(), meter.seconds()
        disturbed = machine.disturbance(sum(shares.values()) + result["cpu_share"] + awake.share())
    after = running.settled_count()
    landed = after - before
    return {
        "target": target.key,
        "load": f"{rate:,}/s open loop",
        "offered": rate,
        "achieved": result["achieved_rate"],
        "p50": result["latency"]["p50"],
        "p99": result["latency"]["p99"],
        "max": result["latency"]["max"],
        "sent": result["sent"],
        "ok": result["ok"],
        "not_ok": result["sent"] - result["ok"],
        "landed": landed,
        "lost": max(0, result["ok"] - landed),
        "server_cpu": shares.get("server"),
        **_cpu_per_update(cpu, result["sent"]),
        "nats_cpu": shares.get("nats-server"),
        "generator_cpu": result["cpu_share"],
        "generator_lag_p99": result["schedule_lag"]["p99"],
        **disturbed,
        "busy_before": idle_before,
        "raw": result,
    }


def _saturation_row(target: Target, running: Running, first_id: int, attempt: int) -> dict[str, Any]:
    first_id += attempt * 500_000
    before = running.settled_count()
    idle_before = meters.wait_for_quiet()
    meter, machine = meters.CpuMeter(running.processes()), meters.SystemMeter()
    result = wrk.run_wrk(
        running.port, duration=SATURATION_SECONDS, connections=SATURATION_CONNECTIONS, first_update_id=first_id
    )
    shares, cpu = meter.shares(), meter.seconds()
    disturbed = machine.disturbance(sum(shares.values()) + result.cpu_share)
    landed = running.settled_count() - before
    return {
        "target": target.key,
        "load": f"saturation (wrk, {SATURATION_CONNECTIONS} conns)",
        "offered": None,
        "achieved": result.rate,
        "p50": result.p50,
        "p99": result.p99,
        "max": result.max,
        "sent": result.requests,
        "ok": result.ok,
        "not_ok": result.requests - result.ok,
        "landed": landed,
        "lost": max(0, result.ok - landed),
        "server_cpu": shares.get("server"),
        **_cpu_per_update(cpu, result.requests),
        "nats_cpu": shares.get("nats-server"),
        "generator_cpu": result.cpu_share,
        "generator_lag_p99": None,
        **disturbed,
        "busy_before": idle_before,
        "raw": result.as_dict(),
    }


def measure_target(target: Target) -> dict[str, Any]:
    print(f"bench: [ack] {target.label}", flush=True)
    running = target.start(f"ack-{target.key}")
    rows: list[dict[str, Any]] = []
    next_id = 1
    try:
        run_loadgen(running.port, WARMUP_RATE, WARMUP_SECONDS, next_id)  # imports, JIT-free warm caches, pools
        next_id += 1_000_000
        for rate, seconds in RATES:
            rows.append(meters.RETRIES.calmest(partial(_open_loop_row, target, running, rate, seconds, next_id)))
            next_id += 1_000_000
            print(f"bench:   {_brief(rows[-1])}", flush=True)
        rows.append(meters.RETRIES.calmest(partial(_saturation_row, target, running, next_id)))
        print(f"bench:   {_brief(rows[-1])}", flush=True)
        peak = {name: proc.peak_rss_kib() for name, proc in running.processes().items()}
    finally:
        running.stop()
    return {"target": target.key, "label": target.label, "durable": target.durable, "rows": rows, "peak_rss_kib": peak}


def _brief(row: dict[str, Any]) -> str:
    return (
        f"{row['load']}: {row['achieved']:,.0f}/s p50 {row['p50'] * 1000:.2f} ms p99 {row['p99'] * 1000:.2f} ms, "
        f"200s {row['ok']}, landed {row['landed']}, lost {row['lost']}, server cpu {row['server_cpu']:.2f}, "
        f"others {row['others_cpu']:.2f}"
    )


def run_all() -> dict[str, Any]:
    return {
        "targets": [measure_target(t) for t in TARGETS],
        "load_average": os.getloadavg(),
    }
