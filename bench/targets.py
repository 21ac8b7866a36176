"""The webhook receivers of benchmark 1, each started fresh (pinned to the server core) with what it needs."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from bench import natsd, procs, updates
from imagebot_common.nats import subjects


@dataclass
class Running:
    server: procs.Proc
    nats: natsd.NatsServer | None
    port: int

    def processes(self) -> dict[str, procs.Proc]:
        found = {"server": self.server}
        if self.nats is not None:
            found["nats-server"] = self.nats.proc
        return found

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as response:
            return json.load(response)

    def stored_or_handled(self) -> int:
        """Updates in the UPDATES stream (durable designs) or handled by the bot (in-memory designs)."""
        if self.nats is not None:
            return self.nats.stream_messages(subjects.UPDATES_STREAM)
        return self.stats()["handled"]

    def settled_count(self, timeout: float = 15.0) -> int:
        """The count once it stops moving: background handlers of in-memory designs finish after the 200s."""
        last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.stored_or_handled()
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= 0.5:
                break
            time.sleep(0.1)
        return last

    def stop(self) -> None:
        self.server.stop()
        if self.nats is not None:
            self.nats.stop()


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    durable: bool
    start: Callable[[str], Running]


def gateway_env(port: int, nats_url: str) -> dict[str, str]:
    return procs.clean_env(
        TELEGRAM_BOT_TOKEN=updates.BOT_TOKEN,
        BOT_MODE="webhook",
        WEBHOOK_BASE_URL=f"http://127.0.0.1:{port}",
        WEBHOOK_SECRET_TOKEN=updates.WEBHOOK_SECRET,
        PORT=str(port),
        HOST="127.0.0.1",
        NATS_URL=nats_url,
        TELEGRAM_API_URL=f"http://127.0.0.1:{procs.closed_port()}",  # registration fails and logs: harmless
        UPDATE_QUEUE_SIZE="50000000",
        UPDATE_STREAM_MAX_BYTES=str(8 * 1024**3),
        LOG_LEVEL="WARNING",
    )


def start_gateway(name: str, **extra_env: str) -> Running:
    nats = natsd.start_nats(f"{name}-nats-server")
    port = procs.free_port()
    env = {**gateway_env(port, nats.url), **extra_env}
    server = procs.python_module(name, "imagebot_gateway", [], env, cores=procs.SERVER_CORE)
    procs.wait_http_ok(server, f"http://127.0.0.1:{port}/readyz")
    return Running(server, nats, port)


def _module_starter(module: str, *args: str, with_nats: bool = False) -> Callable[[str], Running]:
    def start(name: str) -> Running:
        nats = natsd.start_nats(f"{name}-nats-server") if with_nats else None
        port = procs.free_port()
        argv = ["--port", str(port), *args, *(["--nats-url", nats.url] if nats else [])]
        server = procs.python_module(name, module, argv, procs.clean_env(), cores=procs.SERVER_CORE)
        procs.wait_http_ok(server, f"http://127.0.0.1:{port}/healthz")
        return Running(server, nats, port)

    return start


TARGETS: tuple[Target, ...] = (
    Target("gateway", "(a) gateway: Litestar+uvicorn, awaits JetStream publish (file storage)", True, start_gateway),
    Target(
        "yardstick",
        "(d) yardstick: plain aiohttp handler, awaits JetStream publish",
        True,
        _module_starter("bench.servers.yardstick", with_nats=True),
    ),
    Target(
        "aiogram_background",
        "(b) aiogram SimpleRequestHandler(handle_in_background=True), trivial handler",
        False,
        _module_starter("bench.servers.aiogram_background"),
    ),
    Target(
        "original_queue",
        "(c) original: aiohttp → asyncio.Queue(100) → 3 workers, drop when full; trivial handler",
        False,
        _module_starter("bench.servers.original_queue"),
    ),
    Target(
        "original_queue_50ms",
        "(c′) original design, handler awaits 50 ms (one Bot API round trip)",
        False,
        _module_starter("bench.servers.original_queue", "--handler-seconds", "0.05"),
    ),
)
