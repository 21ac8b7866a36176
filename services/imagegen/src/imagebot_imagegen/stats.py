"""In-process figures for /health (Prometheus keeps the long-lived counters)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    in_flight: int = 0
    received: int = 0
    resumed: int = 0
    succeeded: int = 0
    failed_by_kind: Counter[str] = field(default_factory=Counter)
    kie_errors_by_code: Counter[str] = field(default_factory=Counter)
    callbacks: Counter[str] = field(default_factory=Counter)

    def record_result(self, outcome: str, kind: str) -> None:
        if outcome == "succeeded":
            self.succeeded += 1
        else:
            self.failed_by_kind[kind or "unknown"] += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "jobs_in_flight": self.in_flight,
            "jobs_received": self.received,
            "jobs_resumed": self.resumed,
            "jobs_succeeded": self.succeeded,
            "jobs_failed_by_kind": dict(self.failed_by_kind),
            "kie_errors_by_code": dict(self.kie_errors_by_code),
            "callbacks": dict(self.callbacks),
        }
