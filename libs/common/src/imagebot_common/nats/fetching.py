"""One fetch of a pull subscription that never raises, for loops that must not die.

A fetch loop that dies on an unexpected error silently stops all work while the process looks healthy
(nats.md gotcha 12: nats-py raises the built-in TimeoutError, and other errors appear around reconnects).
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

log = logging.getLogger("imagebot.nats")

RETRY_PAUSE = 0.5  # seconds after a failed fetch, so a broken connection is not hammered


async def fetch_or_nothing(sub: JetStreamContext.PullSubscription, batch: int, timeout: float, what: str) -> list[Msg]:
    """Up to `batch` messages; none when the fetch timed out, or when it failed (logged, after a short pause).

    A client closed for good has already said so in one ERROR line and its process is stopping: a fetch on it
    fails the same way until the loop sees the stop, and that is not news worth a traceback each time."""
    try:
        return await sub.fetch(batch, timeout=timeout)
    except (NatsTimeoutError, TimeoutError):
        return []
    except ConnectionClosedError:
        log.debug("fetching %s: the NATS connection is closed", what)
        await asyncio.sleep(RETRY_PAUSE)
        return []
    except Exception:
        log.exception("fetching %s failed; retrying", what)
        await asyncio.sleep(RETRY_PAUSE)
        return []
