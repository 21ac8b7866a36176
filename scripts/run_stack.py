"""`make run`: the whole stack as separate local processes under honcho (one log stream, Ctrl-C stops all).

With no TELEGRAM_BOT_TOKEN it runs on the local emulators of Telegram and Kie.ai, so a newcomer can talk to
the bot with no token and no internet. With a token (and KIE_API_KEY) it runs against the real services:
polling when WEBHOOK_BASE_URL is unset, webhook when it is set.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from honcho.manager import Manager

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = ROOT / ".devstack"
SANDBOX_TOKEN = "123456789:SANDBOX-not-a-real-token-000000"  # noqa: S105 - the emulator accepts any token
SANDBOX_KIE_KEY = "sandbox-kie-key"
SANDBOX_CALLBACK_TOKEN = "sandbox-callback-token"  # noqa: S105 - only the local emulator ever sends it
PY = sys.executable


@dataclass
class Proc:
    name: str
    command: str
    port: int
    health: str | None  # URL that answers 200 once it is up
    env: dict[str, str] = field(default_factory=dict)


def configuration() -> dict[str, str]:
    """The environment the services get: .env, overridden by the real environment (like pydantic-settings)."""
    env_file = {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}
    return {**env_file, **os.environ}


def port(config: dict[str, str], name: str, default: int) -> int:
    return int(config.get(name) or default)


def plan(config: dict[str, str]) -> tuple[list[Proc], dict[str, str], str]:
    """What to start and with which environment; every port can be moved with the variable named here."""
    gateway_port = port(config, "PORT", 10000)
    nats_port, monitor_port = port(config, "DEVSTACK_NATS_PORT", 4222), port(config, "DEVSTACK_NATS_MONITOR_PORT", 8222)
    tg_port, kie_port = port(config, "DEVSTACK_TELEGRAM_PORT", 8081), port(config, "DEVSTACK_KIE_PORT", 8082)
    health_ports = {
        "dispatcher": port(config, "DEVSTACK_DISPATCHER_PORT", 10001),
        "imagegen": port(config, "DEVSTACK_IMAGEGEN_PORT", 10002),
    }
    base: dict[str, str] = {
        "NATS_URL": f"nats://127.0.0.1:{nats_port}",
        "LOG_LEVEL": config.get("LOG_LEVEL", "INFO"),
        "PORT": str(gateway_port),
    }
    nats_cmd = f"{ROOT / '.venv/bin/nats-server'} -js -sd {STATE_DIR / 'nats'} -p {nats_port} -m {monitor_port}"
    procs = [Proc("nats", nats_cmd, nats_port, f"http://127.0.0.1:{monitor_port}/healthz")]
    sandbox = not config.get("TELEGRAM_BOT_TOKEN")
    if sandbox:
        base.update(
            TELEGRAM_BOT_TOKEN=SANDBOX_TOKEN,
            TELEGRAM_API_URL=f"http://127.0.0.1:{tg_port}",
            BOT_MODE="webhook",
            WEBHOOK_BASE_URL=f"http://127.0.0.1:{gateway_port}",
        )
        procs.append(
            Proc(
                "telegram",
                f"{PY} -m imagebot_emulators.telegram --port {tg_port}",
                tg_port,
                f"http://127.0.0.1:{tg_port}/control/health",
            )
        )
    else:
        if not config.get("BOT_MODE"):  # .env and the environment win; the default follows WEBHOOK_BASE_URL
            base["BOT_MODE"] = "webhook" if config.get("WEBHOOK_BASE_URL") else "polling"
    if not config.get("KIE_API_KEY"):
        base.update(KIE_API_KEY=SANDBOX_KIE_KEY, KIE_API_URL=f"http://127.0.0.1:{kie_port}")
        if sandbox:
            base["KIE_CALLBACK_BASE_URL"] = f"http://127.0.0.1:{gateway_port}"
            base["KIE_CALLBACK_TOKEN"] = SANDBOX_CALLBACK_TOKEN
        procs.append(
            Proc(
                "kie",
                f"{PY} -m imagebot_emulators.kie --port {kie_port}",
                kie_port,
                f"http://127.0.0.1:{kie_port}/control/health",
            )
        )
    procs.append(Proc("gateway", f"{PY} -m imagebot_gateway", gateway_port, f"http://127.0.0.1:{gateway_port}/readyz"))
    for name, health_port in health_ports.items():
        procs.append(
            Proc(
                name,
                f"{PY} -m imagebot_{name}",
                health_port,
                f"http://127.0.0.1:{health_port}/readyz",
                {"HEALTH_PORT": str(health_port)},
            )
        )
    where = f"http://127.0.0.1:{tg_port}/" if sandbox else "your bot in Telegram"
    return procs, base, where


def ports_in_use(procs: list[Proc]) -> list[Proc]:
    busy = []
    for proc in procs:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", proc.port)) == 0:
                busy.append(proc)
    return busy


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:  # noqa: S310 - our own localhost URLs
            return response.status == 200
    except OSError:
        return False


def report_progress(procs: list[Proc], where: str, deadline: float = 90.0) -> None:
    """Print each service as it becomes ready, then one line saying where to talk to the bot."""
    pending = [p for p in procs if p.health]
    started = time.monotonic()
    while pending and time.monotonic() - started < deadline:
        for proc in list(pending):
            if answers(proc.health or ""):
                print(f"devstack | ✓ {proc.name} ready on port {proc.port}", flush=True)
                pending.remove(proc)
        time.sleep(0.3)
    if pending:
        print(f"devstack | ✗ not ready after {deadline:.0f}s: {', '.join(p.name for p in pending)}", flush=True)
        return
    print(f"devstack | ▶ imagebot is up in {time.monotonic() - started:.1f}s — chat with it at {where}", flush=True)


def main() -> int:
    procs, base_env, where = plan(configuration())
    busy = ports_in_use(procs)
    if busy:
        for proc in busy:
            print(f"devstack: port {proc.port} ({proc.name}) is already in use — is another `make run` going?")
        return 1
    STATE_DIR.mkdir(exist_ok=True)
    print(f"devstack | starting {', '.join(p.name for p in procs)} (Ctrl-C stops everything)", flush=True)
    manager = Manager()
    for proc in procs:
        manager.add_process(proc.name, proc.command, env={**os.environ, **base_env, **proc.env}, cwd=str(ROOT))
    threading.Thread(target=report_progress, args=(procs, where), daemon=True).start()
    manager.loop()
    # Ctrl-C (130) and SIGTERM (143) are the way to stop the stack: a clean stop, not an error.
    return 0 if manager.returncode in (130, 143) else (manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
