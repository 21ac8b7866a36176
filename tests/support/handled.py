"""What the dispatcher recorded as handled, read back from the `handled_updates` bucket.

Each id is looked up on its own (direct gets, many at a time) rather than listed with `kv.keys()`: in one
chaos run under load, nats-py 2.16's keys() watcher came back with no keys from a bucket holding 600 (not
reproduced in isolation), which would make every update look lost.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from imagebot_common.nats import subjects

CONCURRENCY = 200


async def unhandled(js: JetStreamContext, bot_id: int, update_ids: Iterable[int]) -> set[int]:
    """The update ids of `bot_id` among `update_ids` with no record in `handled_updates`."""
    kv = await js.key_value(subjects.HANDLED_UPDATES_BUCKET)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def missing(update_id: int) -> int | None:
        async with gate:
            try:
                await kv.get(f"{bot_id}.{update_id}")
                return None
            except KeyNotFoundError:
                return update_id

    found = await asyncio.gather(*(missing(update_id) for update_id in set(update_ids)))
    return {update_id for update_id in found if update_id is not None}


_AIOGRAM_HANDLED = re.compile(r"Update id=(\d+) is handled\.")


def handled_in_logs(logs: Iterable[str]) -> set[int]:
    """Update ids aiogram logged as handled ("Update id=N is handled. Duration ..."), from dispatcher logs.

    The second witness next to `handled_updates`: the dispatcher records an update there after handling it and
    carries on if the record cannot be written (NATS briefly unreachable: at worst one repeat later), so during
    an outage or a failover a handled update can lack its record."""
    return {int(found) for text in logs for found in _AIOGRAM_HANDLED.findall(text)}


async def never_handled(
    js: JetStreamContext, bot_id: int, update_ids: Iterable[int], dispatcher_logs: Iterable[str]
) -> tuple[set[int], set[int]]:
    """(lost, unrecorded): ids with neither a record nor a "handled" log line, and ids handled without a record."""
    unrecorded = await unhandled(js, bot_id, update_ids)
    lost = unrecorded - handled_in_logs(dispatcher_logs)
    return lost, unrecorded - lost
