"""`python -m bench.hiccups`: how long the core it runs on stopped running anything (jHiccup's idea, per core).

A real-time (SCHED_FIFO) sleeper asks to wake every millisecond and notes how late it woke. A real-time task
preempts every ordinary one at once, so a wake-up later than a few milliseconds means the core ran nothing of
this machine's for that long: the hypervisor had given the virtual core to another machine, or the kernel was
busy with interrupts off. On this shared host such hiccups are what a run's p99 mostly measures; /proc/stat's
steal counts only part of them. The meter that starts it (meters.Hiccups) sets the policy; on SIGTERM it
prints one JSON object: the wake-ups it made and every lateness ≥ 1 ms, in milliseconds.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from types import FrameType

PERIOD = 0.001
NOTED = 0.001  # later than this is noted; the meter's summary counts from its own threshold


def main() -> None:
    late_ms: list[float] = []
    wakeups = 0

    def report(_signum: int, _frame: FrameType | None) -> None:
        print(json.dumps({"wakeups": wakeups, "late_ms": late_ms}), flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, report)
    clock = time.monotonic
    while True:
        due = clock() + PERIOD
        time.sleep(PERIOD)
        late = clock() - due
        wakeups += 1
        if late > NOTED:
            late_ms.append(round(late * 1000, 2))


if __name__ == "__main__":
    main()
