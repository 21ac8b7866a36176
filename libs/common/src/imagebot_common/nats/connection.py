"""One NATS connection per process: retried until the first connect succeeds, then reconnecting forever."""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.errors import Error as NatsError

from imagebot_common.redaction import mask_url

log = logging.getLogger("imagebot.nats")

FIRST_CONNECT_MAX_DELAY = 5.0


async def connect(nc: Client, servers: list[str], name: str, *, connect_timeout: int = 2) -> None:
    """Connect `nc` (created up front so a service can serve health while NATS is down), retrying forever.

    After the first success nats-py reconnects by itself, without limit. Publishing while disconnected is
    buffered by nats-py; callers that must not wait check `nc.is_connected`.
    """

    async def on_disconnect() -> None:
        if not (nc.is_closed or nc.is_draining):
            log.warning("NATS disconnected; reconnecting")

    async def on_reconnect() -> None:
        log.info("NATS reconnected to %s", mask_url(str(nc.connected_url.geturl())) if nc.connected_url else "?")

    async def on_error(exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    delay = 0.2
    while True:
        try:
            await nc.connect(
                servers=servers,
                name=name,
                connect_timeout=connect_timeout,
                reconnect_time_wait=0.5,
                max_reconnect_attempts=-1,
                ping_interval=5,
                max_outstanding_pings=2,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                error_cb=on_error,
            )
            log.info("NATS connected to %s", ", ".join(mask_url(s) for s in servers))
            return
        except (NatsError, OSError, TimeoutError) as exc:
            log.warning("NATS not reachable (%s); retrying in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, FIRST_CONNECT_MAX_DELAY)


async def close(nc: Client, timeout: float = 5.0) -> None:
    """Drain when connected (flushes pending acks and publishes), else just close."""
    try:
        if nc.is_connected:
            await asyncio.wait_for(nc.drain(), timeout=timeout)
        elif not nc.is_closed:
            await nc.close()
    except (NatsError, TimeoutError, OSError) as exc:
        log.warning("NATS close: %s", type(exc).__name__)
