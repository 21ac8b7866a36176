"""How often a job reads recordInfo: Kie's guidance (2-3 s for the first 30 s, 5-10 s until 2 min, then 15-30 s),
stretched so that all jobs in flight together stay within a share of the per-key read limit (10/s), leaving
headroom for reads triggered by callbacks."""

from __future__ import annotations

POLL_SHARE_OF_READ_LIMIT = 0.8
# With callbacks on, polling is only the fallback for a lost callback: poll this many times less often.
CALLBACK_MODE_POLL_FACTOR = 3.0


def poll_interval(
    seconds_since_task: float, *, initial: float, in_flight: int, reads_per_second: float, callbacks_on: bool = False
) -> float:
    if callbacks_on:
        initial *= CALLBACK_MODE_POLL_FACTOR
    if seconds_since_task < 30:
        interval = initial
    elif seconds_since_task < 120:
        interval = initial * 2.5
    else:
        interval = initial * 7.5
    budget = max(1, in_flight) / (reads_per_second * POLL_SHARE_OF_READ_LIMIT)
    return max(interval, budget)
