"""The dispatcher's configuration: one class, read once in __main__."""

from __future__ import annotations

from pydantic import Field

from imagebot_common.settings import CommonSettings
from imagebot_dispatcher.conversation.settings import ConversationSettings


class DispatcherSettings(ConversationSettings, CommonSettings):
    health_host: str = "0.0.0.0"
    health_port: int = Field(default=10001, ge=1, le=65535)
    update_queue_workers: int = Field(default=256, ge=1, le=10_000, description="handlers in flight per replica")

    # Consumption of the UPDATES stream (design: consumer/__init__.py, docs/architecture.md "Per-chat order").
    consumer_max_ack_pending: int = Field(
        default=256, ge=1, le=10_000, description="messages one partition may have delivered and not yet acked"
    )
    consumer_ack_wait: float = Field(
        default=30.0, ge=1.0, le=600.0, description="seconds until an unacked message is redelivered (heartbeats renew)"
    )
    consumer_pin_timeout: float = Field(
        default=6.0, ge=1.0, le=120.0, description="seconds without pulls after which a partition moves to a standby"
    )
    consumer_member_ttl: float = Field(
        default=3.0, ge=0.5, le=60.0, description="seconds a replica that stopped heartbeating still counts as a member"
    )
    consumer_rebalance_delay: float = Field(
        default=5.0, ge=0.0, le=600.0, description="seconds a replica must be up before partitions move to it"
    )
    consumer_max_deliveries: int = Field(
        default=8, ge=2, le=1000, description="a message delivered this often without an ack is dead-lettered unhandled"
    )
    handler_attempts: int = Field(default=3, ge=1, le=20, description="tries of one update before it is dead-lettered")
    handler_retry_backoff: float = Field(default=0.2, ge=0.0, le=30.0, description="seconds before the 1st retry; x2")
    handler_timeout: float = Field(
        default=120.0, ge=0.1, le=3600.0, description="seconds one handler call may take (it may wait out 429s)"
    )
    drain_timeout: float = Field(default=20.0, ge=0.0, le=600.0, description="seconds SIGTERM waits for handlers")
