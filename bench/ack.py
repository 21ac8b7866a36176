"""Benchmark 1: webhook acknowledgement — open loop at fixed rates, then closed-loop saturation, per target.

Lost = answered 200 but not in the UPDATES stream (durable designs) or never handled (in-memory designs).

Every receiver is started at once, and each open-loop load runs on all of them back to back, so the ratios
compare runs seconds apart. The latency goals' loads run in rounds and each row is the receiver's median round
(by p99): at 1,000/s a p99 rests on its 60 slowest answers, and a single hiccup of the host's (meters.Hiccups)
of 20–40 ms moves it by several times.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import partial
from typing import Any

from bench import meters, procs, wrk
from bench.stats import median_round
from bench.targets import TARGETS, Running, Target

# (updates/s, seconds, rounds): past saturation (5,000/s) queueing, not a hiccup, sets the latency: one round.
RATES: tuple[tuple[int, float, int], ...] = ((200, 6.0, 3), (1000, 6.0, 5), (5000, 5.0, 1))
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
    with meters.AwakeCores() as awake, meters.Hiccups() as hiccups:  # open loop: cores would idle in between
        meter, machine = meters.CpuMeter(running.processes()), meters.SystemMeter()
        result = run_loadgen(running.port, rate, seconds, first_id)
        shares, cpu = meter.shares(), meter.seconds()
        helpers = awake.share() + hiccups.share()
        disturbed = machine.disturbance(sum(shares.values()) + result["cpu_share"] + helpers)
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
        **hiccups.summary(),
        "busy_before": idle_before,
        "raw": result,
    }


def _saturation_row(target: Target, running: Running, first_id: int, attempt: int) -> dict[str, Any]:
    first_id += attempt * 500_000
    before = running.settled_count()
    idle_before = meters.wait_for_quiet()
    with meters.Hiccups() as hiccups:
        meter, machine = meters.CpuMeter(running.processes()), meters.SystemMeter()
        result = wrk.run_wrk(
            running.port, duration=SATURATION_SECONDS, connections=SATURATION_CONNECTIONS, first_update_id=first_id
        )
        shares, cpu = meter.shares(), meter.seconds()
        disturbed = machine.disturbance(sum(shares.values()) + result.cpu_share + hiccups.share())
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
        **hiccups.summary(),
        "busy_before": idle_before,
        "raw": result.as_dict(),
    }


def _started() -> tuple[list[dict[str, Any]], dict[Target, Running]]:
    """Every receiver up at once (idle ones cost ~nothing) and warmed up; one that fails to start is reported,
    and the others go on."""
    entries: list[dict[str, Any]] = []
    running: dict[Target, Running] = {}
    for target in TARGETS:
        entry = {"target": target.key, "label": target.label, "durable": target.durable, "rows": []}
        entries.append(entry)
        try:
            running[target] = target.start(f"ack-{target.key}")
            run_loadgen(running[target].port, WARMUP_RATE, WARMUP_SECONDS, 1)  # imports, warm caches, pools
        except Exception as exc:  # one receiver failing must not hide the others' figures
            entry["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            del entry["rows"]
            running.pop(target, None)
    return entries, running


def _open_loop_rows(
    running: dict[Target, Running], rate: int, seconds: float, rounds: int, first_id: int
) -> dict[Target, dict[str, Any]]:
    """The load on every receiver back to back, `rounds` times; per receiver its median round (or, for one
    round, the calmer of two runs when the first was disturbed)."""
    runs: dict[Target, list[dict[str, Any]]] = {target: [] for target in running}
    for round_ in range(rounds):
        for target, receiver in running.items():
            first = first_id + round_ * ROUND_IDS
            measure = partial(_open_loop_row, target, receiver, rate, seconds, first)
            runs[target].append(meters.RETRIES.calmest(measure) if rounds == 1 else measure(0))
            print(f"bench:   {target.key} {_brief(runs[target][-1])}", flush=True)
    return {target: median_round(done) for target, done in runs.items()}


ROUND_IDS = 100_000  # update ids per round (≥ the most one round sends); a repeat adds 500,000 (attempt)


def run_all() -> dict[str, Any]:
    entries, running = _started()
    by_key = {entry["target"]: entry for entry in entries}
    try:
        for step, (rate, seconds, rounds) in enumerate(RATES, start=1):
            print(f"bench: [ack] {rate:,}/s open loop, {rounds} round(s) on every receiver", flush=True)
            for target, row in _open_loop_rows(running, rate, seconds, rounds, step * 1_000_000).items():
                by_key[target.key]["rows"].append(row)
        print("bench: [ack] saturation", flush=True)
        for target, receiver in running.items():
            rows = by_key[target.key]["rows"]
            rows.append(meters.RETRIES.calmest(partial(_saturation_row, target, receiver, (len(RATES) + 1) * 10**6)))
            print(f"bench:   {target.key} {_brief(rows[-1])}", flush=True)
        for target, receiver in running.items():
            by_key[target.key]["peak_rss_kib"] = {name: p.peak_rss_kib() for name, p in receiver.processes().items()}
    finally:
        for receiver in running.values():
            receiver.stop()
    return {"targets": entries, "load_average": os.getloadavg()}


def _brief(row: dict[str, Any]) -> str:
    hiccup = row.get("hiccup_max_ms")
    return (
        f"{row['load']}: {row['achieved']:,.0f}/s p50 {row['p50'] * 1000:.2f} ms p99 {row['p99'] * 1000:.2f} ms, "
        f"200s {row['ok']}, landed {row['landed']}, lost {row['lost']}, server cpu {row['server_cpu']:.2f}, "
        f"others {row['others_cpu']:.2f}, longest hiccup {'—' if hiccup is None else f'{hiccup:.0f} ms'}"
    )
