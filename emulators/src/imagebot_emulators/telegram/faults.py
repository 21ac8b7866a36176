"""Injected failures: the next n calls of a method answer an error, hang, or lose the connection."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import DEFAULT_DESCRIPTIONS

KINDS = ("timeout", "disconnect")


@dataclass
class Fault:
    method: str  # a Bot API method name (any case) or "*"
    status: int | str  # an HTTP status in Telegram's error shape, "timeout" or "disconnect"
    count: int = 1
    retry_after: int | None = None
    delay: float | None = None  # for "timeout": how long to hang (default: longer than aiogram waits)
    description: str | None = None
    # Perform the call first: the "sent, but the answer was lost" case that makes clients retry and
    # duplicate. "disconnect" then closes the connection; "timeout" answers after `delay` (a slow API).
    # Without it, neither performs the call and both end by closing the connection unanswered.
    execute: bool = False

    @classmethod
    def from_json(cls, body: Any) -> Fault:
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        method = body.get("method")
        if not isinstance(method, str) or not method:
            raise ValueError("method must be a method name or '*'")
        status = body.get("status")
        if not (isinstance(status, int) and 400 <= status <= 599) and status not in KINDS:
            raise ValueError("status must be an HTTP error status (400-599), 'timeout' or 'disconnect'")
        count = body.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        retry_after = body.get("retry_after")
        if status == 429 and retry_after is None:
            retry_after = 1  # a 429 without retry_after does not exist on Telegram
        return cls(
            method=method,
            status=status,
            count=count,
            retry_after=retry_after,
            delay=body.get("delay"),
            description=body.get("description"),
            execute=bool(body.get("execute", False)),
        )

    def matches(self, method: str) -> bool:
        return self.method == "*" or self.method.lower() == method.lower()

    def error_description(self) -> str:
        if self.description:
            return self.description
        if self.status == 429:
            return f"Too Many Requests: retry after {self.retry_after}"
        assert isinstance(self.status, int)
        return DEFAULT_DESCRIPTIONS.get(self.status, "Error")


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str) -> Fault | None:
        """The first armed fault for `method`, consuming one of its uses."""
        for fault in self.faults:
            if fault.matches(method):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [asdict(fault) for fault in self.faults]
