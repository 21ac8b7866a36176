"""The engine's knobs as a plain value, so the engine never reads the environment and tests build it directly."""

from __future__ import annotations

from dataclasses import dataclass, field

from imagebot_common.nats import subjects
from imagebot_dispatcher.settings import DispatcherSettings

PRIORITY_GROUP = "dispatcher"  # ADR-42 priority group every replica pulls in
CONSUMER_PREFIX = "dispatcher-p"  # durable names dispatcher-p00 ... dispatcher-p15


@dataclass(frozen=True)
class EngineOptions:
    bot_id: str
    workers: int = 256
    max_ack_pending: int = 256
    ack_wait: float = 30.0
    pin_timeout: float = 6.0
    member_ttl: float = 3.0  # a replica silent this long leaves the dispatcher_members registry
    rebalance_delay: float = 5.0  # a replica up for less than this gets no partitions handed to it
    # This replica's key in dispatcher_members (its instance id); empty: a random one (several engines in one
    # process). An identity, not a knob, so it takes no part in comparing two configurations.
    member_id: str = field(default="", compare=False)
    max_deliveries: int = 8
    handler_attempts: int = 3
    retry_backoff: float = 0.2
    retry_max_delay: float = 30.0  # cap of a server-requested wait (Telegram's retry_after) between attempts
    handler_timeout: float = 120.0
    drain_timeout: float = 20.0
    stream: str = subjects.UPDATES_STREAM
    replicas: int = 1
    stream_poll_interval: float = 1.0  # while waiting for the gateway to provision the stream

    @property
    def pull_expires(self) -> float:
        """A pull lives a third of the pin timeout, so the pinned replica re-pulls well before it would lose the pin."""
        return max(0.3, min(5.0, self.pin_timeout / 3))

    @property
    def heartbeat_interval(self) -> float:
        return max(0.2, self.ack_wait / 4)

    @property
    def head_wait_limit(self) -> float:
        """Longest a chat waits for an older message held elsewhere: its redelivery comes within one ack_wait of the
        holder's death, so twice that plus a takeover means the message is stuck, and liveness wins over order."""
        return 2 * self.ack_wait + self.pin_timeout + 5.0

    @property
    def balance_interval(self) -> float:
        """Heartbeat and balance period: four per member TTL, so one lost heartbeat never expires a member."""
        return max(0.1, self.member_ttl / 4)

    @classmethod
    def from_settings(cls, settings: DispatcherSettings) -> EngineOptions:
        return cls(
            bot_id=bot_id_of(settings.telegram_bot_token),
            workers=settings.update_queue_workers,
            max_ack_pending=settings.consumer_max_ack_pending,
            ack_wait=settings.consumer_ack_wait,
            pin_timeout=settings.consumer_pin_timeout,
            member_ttl=settings.consumer_member_ttl,
            rebalance_delay=settings.consumer_rebalance_delay,
            member_id=settings.instance_id,
            max_deliveries=settings.consumer_max_deliveries,
            handler_attempts=settings.handler_attempts,
            retry_backoff=settings.handler_retry_backoff,
            handler_timeout=settings.handler_timeout,
            drain_timeout=settings.drain_timeout,
            replicas=settings.nats_replicas,
        )


def bot_id_of(token: str) -> str:
    """The numeric bot id in front of the token's colon (public: it is the bot's user id)."""
    head = token.split(":", 1)[0]
    return head if head.isdigit() else "bot"
