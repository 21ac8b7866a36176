"""One NATS connection per process: retried until the first connect succeeds, then reconnecting forever.

Except when nats-py gives up. It closes the client for good, without reconnecting, when the server sends any
`-ERR` but a stale connection or a permissions violation (`Client._process_err`: 'Authorization Violation',
'maximum connections exceeded', 'Maximum Payload Violation', ...), and when reconnect attempts run out (not
with our `max_reconnect_attempts=-1`). After that every publish, request and pull fails for the life of the
process. We do not build a fresh connection in place: the services hold subscriptions, JetStream contexts,
KV and object-store handles and pull consumers made from this one client, and every holder would have to be
rebuilt, which is what starting the process does anyway. Instead the loss is recorded (`closed_for_good`),
logged once as an ERROR with the reason, the probes answer not alive and not ready, and a service process
(which passes `on_lost`) stops itself the way `docker stop` would: Kubernetes restarts it on the failed liveness
probe or the exit, Compose (`restart: unless-stopped`, which ignores health) on the exit, both through the normal
startup path. Our own `close()` is not a loss.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

from nats.aio.client import Client
from nats.errors import Error as NatsError

from imagebot_common.redaction import mask_url

log = logging.getLogger("imagebot.nats")

FIRST_CONNECT_MAX_DELAY = 5.0

# Keyed weakly by client: tests build many clients in one process.
_closing: weakref.WeakSet[Client] = weakref.WeakSet()  # our close() asked for it
_lost: weakref.WeakKeyDictionary[Client, str] = weakref.WeakKeyDictionary()  # nats-py gave up: why


def closed_for_good(nc: Client) -> str | None:
    """Why nats-py closed `nc` without our `close()` asking (it never comes back), or None."""
    return _lost.get(nc)


async def connect(
    nc: Client,
    servers: list[str],
    name: str,
    *,
    connect_timeout: int = 2,
    on_lost: Callable[[], None] | None = None,
) -> None:
    """Connect `nc` (created up front so a service can serve health while NATS is down), retrying forever.

    After the first success nats-py reconnects by itself, without limit. Publishing while disconnected is
    buffered by nats-py; callers that must not wait check `nc.is_connected`. `on_lost` is called once if nats-py
    closes the client for good (see the module docstring).
    """
    where = ", ".join(mask_url(s) for s in servers)

    async def on_disconnect() -> None:
        if not (nc.is_closed or nc.is_draining):
            log.warning("NATS disconnected; reconnecting")

    async def on_reconnect() -> None:
        log.info("NATS reconnected to %s", mask_url(str(nc.connected_url.geturl())) if nc.connected_url else "?")

    async def on_error(exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    async def on_closed() -> None:
        # nats-py calls this after every close once connected, ours included; first-connect failures never do.
        if nc in _closing:
            return
        error = nc.last_error
        reason = f"{type(error).__name__}: {error}" if error else "no error given"
        _lost[nc] = reason
        log.error(
            "NATS connection to %s closed for good by the client library (%s); it will not reconnect: "
            "reporting not alive and not ready%s",
            where,
            reason,
            ", and stopping so that this process is started again" if on_lost is not None else "",
        )
        if on_lost is not None:
            on_lost()

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
                closed_cb=on_closed,
            )
            log.info("NATS connected to %s", where)
            return
        except (NatsError, OSError, TimeoutError) as exc:
            log.warning("NATS not reachable (%s); retrying in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, FIRST_CONNECT_MAX_DELAY)


async def close(nc: Client, timeout: float = 5.0) -> None:
    """Drain when connected (flushes pending acks and publishes), else just close."""
    _closing.add(nc)
    try:
        if nc.is_connected:
            await asyncio.wait_for(nc.drain(), timeout=timeout)
        elif not nc.is_closed:
            await nc.close()
    except (NatsError, TimeoutError, OSError) as exc:
        log.warning("NATS close: %s", type(exc).__name__)
