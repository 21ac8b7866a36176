"""`python -m bench.hiccups`: how long the core it runs on stopped running anything (jHiccup's idea, per core).

A real-time (SCHED_FIFO) sleeper asks to wake every 5 ms and notes how late it woke. A real-time task
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

# Every 5 ms, not every 1: at 1 ms the sleeper took 4.6% of a core and 1,000 preemptions a second from what it
# measures (enough to push a dispatcher at 75% of its core into queueing); at 5 ms ~1%. A hiccup still shows
# as a wake-up late by its length less the sleep it fell into, so one of 20 ms reads as 15–20 ms.
PERIOD = 0.005
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
