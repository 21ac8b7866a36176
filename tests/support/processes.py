"""Run a service as a real process, the way `make run` and the containers do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.nats_server import environ_without_secrets

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """`python -m <module>` with a clean environment plus `env`; output goes to a log file for assertions."""

    def __init__(self, module: str, env: dict[str, str], *, args: list[str] | None = None, name: str = ""):
        self.module = module
        self.name = name or module
        self.env = {**environ_without_secrets(), **env, "PYTHONUNBUFFERED": "1"}
        self.args = args or []
        fd, path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self._proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env=self.env,
            cwd=tempfile.gettempdir(),  # never pick up the developer's .env
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_http_ok(self, url: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._proc.returncode}:\n{self.logs()[-4000:]}")
            try:
                if httpx.get(url, timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout}s:\n{self.logs()[-4000:]}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code (fails the test if it does not stop in time)."""
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s:\n{self.logs()[-4000:]}") from None

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
