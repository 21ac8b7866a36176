"""The gateway's figures: Prometheus metrics for machines, plain counters for /health (this process only)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

_UPDATES = Counter(
    "imagebot_gateway_updates",
    "Telegram updates by what the gateway did with them",
    ["outcome"],  # received | published | duplicate | rejected | dead_lettered | unavailable
)
ACK_SECONDS = Histogram(
    "imagebot_gateway_webhook_ack_duration_seconds",
    "Time from the webhook request to the answer, by status",
    ["status"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
KIE_CALLBACKS = Counter("imagebot_gateway_kie_callbacks", "Kie.ai callbacks by outcome", ["outcome"])


@dataclass
class IntakeStats:
    started_at: float = field(default_factory=time.monotonic)
    total_received: int = 0
    total_published: int = 0
    total_duplicates: int = 0
    total_rejected: int = 0  # 401/413 and the like: not ours to store
    total_unavailable: int = 0  # answered 503: Telegram retries them, nothing is lost
    total_dead_lettered: int = 0

    def __post_init__(self) -> None:
        self._received = _UPDATES.labels("received")
        self._published = _UPDATES.labels("published")
        self._duplicate = _UPDATES.labels("duplicate")
        self._rejected = _UPDATES.labels("rejected")
        self._unavailable = _UPDATES.labels("unavailable")
        self._dead_lettered = _UPDATES.labels("dead_lettered")

    def received(self) -> None:
        self.total_received += 1
        self._received.inc()

    def published(self, duplicate: bool) -> None:
        if duplicate:
            self.total_duplicates += 1
            self._duplicate.inc()
        else:
            self.total_published += 1
            self._published.inc()

    def rejected(self) -> None:
        self.total_rejected += 1
        self._rejected.inc()

    def unavailable(self) -> None:
        self.total_unavailable += 1
        self._unavailable.inc()

    def dead_lettered(self) -> None:
        self.total_dead_lettered += 1
        self._dead_lettered.inc()

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def drop_rate(self) -> float:
        """Percent of deliveries answered 503. Not lost: Telegram delivers them again."""
        return round(100.0 * self.total_unavailable / self.total_received, 2) if self.total_received else 0.0
