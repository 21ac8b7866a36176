"""How busy things were during a measurement: our processes' CPU, the whole machine's, and what to do when
other people's jobs on this shared machine disturbed a run (wait for quiet, repeat once within a budget)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.procs import CLK_TCK, Proc


class CpuMeter:
    """CPU used by a set of processes over an interval, as a share of one core (1.0 = one core busy)."""

    def __init__(self, procs: dict[str, Proc]) -> None:
        self._procs = procs
        self._start = {name: p.cpu_seconds() for name, p in procs.items()}
        self._t0 = time.monotonic()

    def seconds(self) -> dict[str, float]:
        """CPU seconds each process used since the meter was made."""
        return {name: p.cpu_seconds() - self._start[name] for name, p in self._procs.items()}

    def shares(self) -> dict[str, float]:
        elapsed = max(1e-9, time.monotonic() - self._t0)
        return {name: (p.cpu_seconds() - self._start[name]) / elapsed for name, p in self._procs.items()}


def _jiffies() -> tuple[int, int, int]:
    """(busy, steal, total) jiffies of all cores from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, which is already in user
    return total - idle, values[7], total


class SystemMeter:
    """Busy cores of the whole machine over an interval (2.0 = both cores busy), to tell others' load from ours."""

    def __init__(self) -> None:
        self._busy, self._steal, _ = _jiffies()
        self._t0 = time.monotonic()

    def _since(self) -> tuple[float, float]:
        busy, steal, _ = _jiffies()
        elapsed = max(1e-9, time.monotonic() - self._t0)
        return (busy - self._busy) / CLK_TCK / elapsed, (steal - self._steal) / CLK_TCK / elapsed

    def busy_cores(self) -> float:
        return self._since()[0]

    def disturbance(self, ours: float) -> dict[str, float]:
        """What was not ours, given the cores our processes used: `others_cpu` (other processes, the kernel's
        own work and the hypervisor's) and, within it, `steal_cpu`: time the host gave our virtual cores to
        other machines, which no process here can explain."""
        busy, steal = self._since()
        return {"others_cpu": max(0.0, busy - ours), "steal_cpu": steal}


def wait_for_quiet(threshold: float = 0.3, window: float = 0.5, patience: float = 3.0) -> float:
    """Wait (at most `patience` s) until the machine is nearly idle before a measurement: it is shared, and
    other people's test runs would otherwise be measured too. Returns the busy cores last seen."""
    deadline = time.monotonic() + patience
    while True:
        meter = SystemMeter()
        time.sleep(window)
        busy = meter.busy_cores()
        if busy <= threshold or time.monotonic() >= deadline:
            return busy


DISTURBED = 0.3  # cores used by other processes during a run above which the run is repeated (budget allowing)


class RetryBudget:
    """Seconds the whole invocation may spend repeating disturbed measurements (keeps make bench bounded)."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def calmest(self, measure: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        """measure(attempt) once; again (attempt 1) if others disturbed it and the budget allows; the calmer row."""
        started = time.monotonic()
        row = measure(0)
        cost = time.monotonic() - started
        if row.get("others_cpu", 0.0) > DISTURBED and self.left >= cost:
            self.left -= cost
            print(f"bench:   (disturbed: others used {row['others_cpu']:.2f} cores; measuring again)", flush=True)
            wait_for_quiet(patience=6.0)
            again = measure(1)
            again["repeated"] = True
            row = min(row, again, key=lambda r: r.get("others_cpu", 0.0))
        return row


RETRIES = RetryBudget(float(os.environ.get("BENCH_RETRY_SECONDS", "60")))
