"""What the emulator holds: tasks with their scripted outcome, the calls received, faults, credits, rate windows."""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

SUCCESS, FAIL = "success", "fail"
MAX_RECORDED = 200_000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Task:
    task_id: str
    api_key: str
    model: str
    request: dict[str, Any]  # the whole createTask body: `param` is its JSON
    generation_seconds: float
    created_monotonic: float
    create_time: int
    fail_code: str = ""  # set at creation when a task fault is scripted
    fail_msg: str = ""
    complete_time: int | None = None

    @property
    def prompt(self) -> str:
        return str(self.request.get("input", {}).get("prompt", ""))

    @property
    def aspect_ratio(self) -> str:
        return str(self.request.get("input", {}).get("aspect_ratio", "1:1"))

    @property
    def callback_url(self) -> str | None:
        return self.request.get("callBackUrl") or None

    @property
    def outcome(self) -> str:
        return FAIL if self.fail_code else SUCCESS

    def state(self, at_monotonic: float) -> str:
        elapsed = at_monotonic - self.created_monotonic
        g = self.generation_seconds
        if self.complete_time is not None or elapsed >= g:
            return self.outcome
        if elapsed < 0.1 * g:
            return "waiting"
        if elapsed < 0.3 * g:
            return "queuing"
        return "generating"

    def record(self, base_url: str, at_monotonic: float) -> dict[str, Any]:
        """The `data` object of recordInfo (and of callbacks)."""
        state = self.state(at_monotonic)
        final = state in (SUCCESS, FAIL)
        complete = self.complete_time or (now_ms() if final else None)
        return {
            "taskId": self.task_id,
            "model": self.model,
            "state": state,
            "param": json.dumps(self.request, ensure_ascii=False),
            "resultJson": json.dumps({"resultUrls": [f"{base_url}/files/{self.task_id}.png"]})
            if state == SUCCESS
            else "",
            "failCode": self.fail_code if state == FAIL else "",
            "failMsg": self.fail_msg if state == FAIL else "",
            "costTime": int(self.generation_seconds * 1000) if final else 0,
            "completeTime": complete,
            "createTime": self.create_time,
            "updateTime": complete or now_ms(),
        }


@dataclass
class Fault:
    """A scripted answer for the next `remaining` calls of one kind."""

    endpoint: str  # createTask | recordInfo | task (the outcome of newly created tasks)
    remaining: int
    code: int = 0  # envelope error code (createTask / recordInfo)
    msg: str = ""
    delay: float = 0.0  # answer late (the request is processed first): slow responses and client timeouts
    fail_code: str = ""  # task outcome
    fail_msg: str = ""


class SlidingWindow:
    """At most `limit` events in any `window` seconds (Kie: 20 new tasks per 10 s)."""

    def __init__(self) -> None:
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str, limit: int, window: float) -> bool:
        if limit <= 0:
            return True
        now = time.monotonic()
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= window:
            events.popleft()
        if len(events) >= limit:
            return False
        events.append(now)
        return True

    def clear(self) -> None:
        self._events.clear()


@dataclass
class EmulatorState:
    credits: float
    tasks: dict[str, Task] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    create_window: SlidingWindow = field(default_factory=SlidingWindow)
    record_window: SlidingWindow = field(default_factory=SlidingWindow)

    def new_task_id(self) -> str:
        return secrets.token_hex(16)

    def record_call(self, entry: dict[str, Any]) -> None:
        if len(self.calls) < MAX_RECORDED:
            self.calls.append({"at": time.time(), **entry})

    def record_callback(self, entry: dict[str, Any]) -> None:
        if len(self.callbacks) < MAX_RECORDED:
            self.callbacks.append({"at": time.time(), **entry})

    def take_fault(self, endpoint: str) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint == endpoint and fault.remaining > 0:
                fault.remaining -= 1
                return fault
        return None

    def reset(self, credits: float) -> None:
        self.credits = credits
        self.tasks.clear()
        self.calls.clear()
        self.callbacks.clear()
        self.faults.clear()
        self.create_window.clear()
        self.record_window.clear()
