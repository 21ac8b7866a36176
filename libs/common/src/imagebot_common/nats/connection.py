"""One NATS connection per process, reconnecting forever, with its state visible in logs."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client

log = logging.getLogger("imagebot.nats")


async def connect(servers: list[str], name: str, *, connect_timeout: float = 2.0) -> Client:
    """Connect once and keep reconnecting forever afterwards (a NATS outage is never fatal).

    The first connection is retried too (`retry_on_failed_connect`), so a service may start before NATS.
    Publishing while disconnected is buffered by nats-py; callers that must not wait check `is_connected`.
    """

    async def on_disconnect() -> None:
        log.warning("NATS disconnected; reconnecting")

    async def on_reconnect() -> None:
        log.info("NATS reconnected to %s", nc.connected_url.netloc if nc.connected_url else "?")

    async def on_error(exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    async def on_closed() -> None:
        log.info("NATS connection closed")

    nc = await nats.connect(
        servers=servers,
        name=name,
        connect_timeout=connect_timeout,
        reconnect_time_wait=0.5,
        max_reconnect_attempts=-1,
        retry_on_failed_connect=True,
        ping_interval=5,
        max_outstanding_pings=2,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
        closed_cb=on_closed,
    )
    return nc
