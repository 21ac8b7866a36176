"""Resident memory and CPU time of running processes, sampled from /proc while a test loads them (Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

MIB = 1024 * 1024
_TICKS = os.sysconf("SC_CLK_TCK")


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of `pid`, in bytes; empty once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024  # reported in kB
    return found


def cpu_seconds_of(pid: int) -> float:
    """User plus system CPU time `pid` has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of stat)


class ProcessSampler:
    """While entered, samples VmRSS of each named pid every `interval` seconds; `figures()` gives, per process,
    the resident memory at the start, its highest sample, the kernel's peak (VmHWM) and the CPU seconds used."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self.pids, self.interval = pids, interval
        self.start_rss = {name: memory_of(pid).get("VmRSS", 0) for name, pid in pids.items()}
        self.start_cpu = {name: cpu_seconds_of(pid) for name, pid in pids.items()}
        self.peak_rss = dict(self.start_rss)
        self.hwm: dict[str, int] = {}
        self.cpu: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for name, pid in self.pids.items():
            now = memory_of(pid)
            if now:
                self.peak_rss[name] = max(self.peak_rss.get(name, 0), now["VmRSS"])
                self.hwm[name] = now["VmHWM"]
                self.cpu[name] = cpu_seconds_of(pid) - self.start_cpu[name]

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> ProcessSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.sample()

    def figures(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "start_rss_mib": round(self.start_rss.get(name, 0) / MIB, 1),
                "peak_rss_mib": round(self.peak_rss.get(name, 0) / MIB, 1),
                "vm_hwm_mib": round(self.hwm.get(name, 0) / MIB, 1),
                "cpu_s": round(self.cpu.get(name, 0.0), 1),
            }
            for name in self.pids
        }
