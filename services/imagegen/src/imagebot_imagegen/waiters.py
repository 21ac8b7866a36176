"""Local wake-ups: a callback for a task whose job runs in this process cuts that job's poll wait short."""

from __future__ import annotations

import asyncio
import contextlib


class TaskWaiters:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def register(self, task_id: str) -> asyncio.Event:
        return self._events.setdefault(task_id, asyncio.Event())

    def unregister(self, task_id: str) -> None:
        self._events.pop(task_id, None)

    def notify(self, task_id: str) -> bool:
        """True when a job of this process waits on the task (it will re-read recordInfo itself)."""
        event = self._events.get(task_id)
        if event is None:
            return False
        event.set()
        return True


async def wait_for_hint(event: asyncio.Event, timeout: float) -> bool:
    """Sleep up to `timeout`, returning early (True) when a callback hint arrives."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=max(0.0, timeout))
    woke = event.is_set()
    event.clear()
    return woke
