"""The load generators' own ceilings, against bench.servers.trivial (which does far less than any real server),
and the gateway's hot path taken apart at saturation (same machine, same invocation)."""

from __future__ import annotations

from functools import partial
from typing import Any

from bench import meters, natsd, procs, wrk
from bench.ack import run_loadgen
from bench.targets import Running, start_gateway

SECONDS = 4.0
ANATOMY_SECONDS = 6.0


def generator_ceilings() -> dict[str, Any]:
    print("bench: [calibration] load generators against a trivial server", flush=True)
    port = procs.free_port()
    args = ["--port", str(port)]
    server = procs.python_module("trivial", "bench.servers.trivial", args, procs.clean_env(), cores=procs.SERVER_CORE)
    try:
        procs.wait_tcp(server, port)
        run_loadgen(port, 1000, 1.0, 1)  # warm-up
        meters.wait_for_quiet()
        closed = run_loadgen(port, 0, SECONDS, 10_000_000, connections=40)
        meters.wait_for_quiet()
        open_5k = run_loadgen(port, 5000, SECONDS, 20_000_000)
        meters.wait_for_quiet()
        wrk_max = wrk.run_wrk(port, duration=SECONDS, connections=100, first_update_id=30_000_000)
    finally:
        server.stop()
    return {
        "loadgen_closed_loop": {
            "rate": closed["achieved_rate"],
            "cpu_share": closed["cpu_share"],
            "p99": closed["latency"]["p99"],
        },
        "loadgen_open_5000": {
            "rate": open_5k["achieved_rate"],
            "cpu_share": open_5k["cpu_share"],
            "lag_p99": open_5k["schedule_lag"]["p99"],
            "p99": open_5k["latency"]["p99"],
        },
        "wrk": {"rate": wrk_max.rate, "cpu_share": wrk_max.cpu_share, "p99": wrk_max.p99},
    }


def _asgi_variant(kind: str) -> Any:
    def start(name: str) -> Running:
        nats = natsd.start_nats(f"{name}-nats-server")
        port = procs.free_port()
        args = ["--kind", kind, "--port", str(port), "--nats-url", nats.url]
        server = procs.python_module(name, "bench.servers.asgi_publish", args, procs.clean_env(), cores="0")
        procs.wait_http_ok(server, f"http://127.0.0.1:{port}/healthz")
        return Running(server, nats, port)

    return start


def _gateway_variant(**env: str) -> Any:
    return lambda name: start_gateway(name, **env)


VARIANTS = (
    ("gateway as shipped", _gateway_variant()),
    ("gateway, OTEL_TRACES_SAMPLER=always_off (spans not recorded, ids still propagated)",
     _gateway_variant(OTEL_TRACES_SAMPLER="always_off")),
    ("gateway, OTEL_SDK_DISABLED=true (no spans at all)", _gateway_variant(OTEL_SDK_DISABLED="true")),
    ("uvicorn + one-route Litestar app, awaited publish", _asgi_variant("litestar")),
    ("uvicorn + bare ASGI callable, awaited publish", _asgi_variant("raw")),
)  # fmt: skip


def _saturate(running: Running, label: str, attempt: int) -> dict[str, Any]:
    first_update_id = 10_000_000 * (attempt + 1)
    before = running.settled_count()
    meters.wait_for_quiet()
    meter, machine = meters.CpuMeter(running.processes()), meters.SystemMeter()
    result = wrk.run_wrk(running.port, duration=ANATOMY_SECONDS, connections=100, first_update_id=first_update_id)
    shares = meter.shares()
    disturbed = machine.disturbance(sum(shares.values()) + result.cpu_share)
    return {
        "variant": label,
        "rate": result.rate,
        "p99": result.p99,
        "server_cpu": shares["server"],
        **disturbed,
        "stored": running.settled_count() - before,
        "ok": result.ok,
    }


def hot_path_anatomy() -> list[dict[str, Any]]:
    rows = []
    for label, start in VARIANTS:
        print(f"bench: [anatomy] {label}", flush=True)
        running = start("anatomy")
        try:
            wrk.run_wrk(running.port, duration=2, connections=100, first_update_id=1)  # warm-up
            row = meters.RETRIES.calmest(partial(_saturate, running, label))
        finally:
            running.stop()
        rows.append(row)
        print(f"bench:   {row['rate']:,.0f}/s, server cpu {row['server_cpu']:.2f}", flush=True)
    return rows
