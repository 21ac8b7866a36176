"""Processes the bench starts: pinned with taskset, a clean environment, logs to files, measured via /proc.

Every process is started and stopped here, by its own pid; nothing is killed by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
SERVER_CORE = "0"  # the server under test
LOAD_CORE = "1"  # the load generator, nats-server and the emulators
CLK_TCK = os.sysconf("SC_CLK_TCK")
# BENCH_NICE=-10 make bench: run everything the bench starts at a higher priority, so that other people's jobs
# on a shared machine disturb the figures less (at their expense). Default 0: the bench is polite.
NICE = int(os.environ.get("BENCH_NICE", "0"))


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time of a process so far (nan once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pinned(cores: str | None) -> list[str]:
    """The command prefix that pins to `cores` (and applies BENCH_NICE); both exec, so pids stay the program's."""
    prefix = ["nice", "-n", str(NICE)] if NICE else []
    return prefix + (["taskset", "-c", cores] if cores is not None else [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (bound and released): calls to it fail at once with 'connection refused'."""
    return free_port()


def clean_env(**extra: str) -> dict[str, str]:
    """PATH/HOME/LANG plus what the caller sets: no developer's .env or OTEL_* leaks into a measurement."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)  # bench.servers.* run as modules
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    cores: str | None
    _log_file: object = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def peak_rss_kib(self) -> int:
        """VmHWM: the most resident memory this process ever had (0 once it is gone)."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far."""
        return cpu_seconds_of(self.pid)

    def logs(self, tail: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(5)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
        return self.popen.returncode


def start(name: str, argv: list[str], env: dict[str, str], *, cores: str | None, cwd: Path | None = None) -> Proc:
    """Start `argv` (pinned to `cores` via taskset, which execs, so the pid is the program's own)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"{name}.log"
    log_file = log_path.open("wb")
    command = pinned(cores) + argv
    # A neutral working directory: pydantic-settings would read a .env from the repository root.
    workdir = cwd or Path(tempfile.gettempdir())
    popen = subprocess.Popen(command, env=env, cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT)
    return Proc(name, popen, log_path, cores, log_file)


def python_module(name: str, module: str, args: list[str], env: dict[str, str], *, cores: str | None) -> Proc:
    return start(name, [PYTHON, "-m", module, *args], env, cores=cores)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # our own loopback URLs
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError):
        return False


def wait_http_ok(proc: Proc, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.logs()}")
        if http_ok(url):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready at {url} after {timeout:.0f}s:\n{proc.logs()}")


def wait_tcp(proc: Proc, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.logs()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not listening on {port} after {timeout:.0f}s:\n{proc.logs()}")
