"""`make run` as a newcomer sees it: the whole stack up with no token, a chat page, a clean Ctrl-C, and a
clear message when a port is taken. Runs scripts/run_stack.py (what `make run` runs) on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.emulators import TelegramControl
from tests.support.ports import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_TOKEN = "123456789:SANDBOX-not-a-real-token-000000"
PORT_VARIABLES = (
    "PORT",
    "DEVSTACK_NATS_PORT",
    "DEVSTACK_NATS_MONITOR_PORT",
    "DEVSTACK_TELEGRAM_PORT",
    "DEVSTACK_KIE_PORT",
    "DEVSTACK_DISPATCHER_PORT",
    "DEVSTACK_IMAGEGEN_PORT",
)


class RunStack:
    def __init__(self, ports: dict[str, str], tmp_path: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KIE_", "WEBHOOK_", "OTEL_"))}
        self.log_path = tmp_path / f"run-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run_stack.py")],
            env={**env, **ports, "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like a terminal: Ctrl-C goes to the whole group
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ctrl_c(self, timeout: float = 30) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def ports() -> dict[str, str]:
    return {name: str(free_port()) for name in PORT_VARIABLES}


async def test_make_run_starts_everything_without_tokens_and_the_bot_answers_on_the_chat_page(ports, tmp_path):
    stack = RunStack(ports, tmp_path)
    try:
        await wait_until(lambda: "imagebot is up" in stack.output(), timeout=90, interval=0.3, message="stack up")
        page = f"http://127.0.0.1:{ports['DEVSTACK_TELEGRAM_PORT']}/"
        assert f"chat with it at {page}" in stack.output()
        assert httpx.get(page).status_code == 200

        user = TelegramControl(page.rstrip("/"), SANDBOX_TOKEN)
        await user.send_text(777, "/start", language_code="en")

        async def answered() -> bool:
            return any(m["sender"] == "bot" for m in await user.transcript(777))

        await wait_until(answered, timeout=20, message="the bot answers /start")
        assert stack.ctrl_c() == 0
        assert "gateway stopped" in stack.output()
    finally:
        stack.kill()

    again = RunStack(ports, tmp_path)  # a second `make run` works right away
    try:
        await wait_until(lambda: "imagebot is up" in again.output(), timeout=90, interval=0.3, message="up again")
        assert again.ctrl_c() == 0
    finally:
        again.kill()


async def test_a_port_already_in_use_gets_a_clear_message(ports, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(ports["PORT"])))
        taken.listen()
        stack = RunStack(ports, tmp_path)
        code = stack.proc.wait(30)
    assert code == 1
    assert f"port {ports['PORT']} (gateway) is already in use" in stack.output()
