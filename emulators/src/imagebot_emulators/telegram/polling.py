"""getUpdates: long polling with Telegram's offset, limit, timeout and conflict rules."""

from __future__ import annotations

import time
from typing import Any

from .calls import Call, Handler
from .errors import ApiError, bad_request

WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
TERMINATED_BY_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
TERMINATED_BY_WEBHOOK = "Conflict: terminated by setWebhook request"


def allowed_updates_param(call: Call) -> list[str] | None:
    value = call.params.json("allowed_updates")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("can't parse allowed_updates JSON array")
    return value


def terminate_polls(call: Call, reason: str) -> None:
    """Make any waiting getUpdates answer 409 with `reason`."""
    bot = call.bot
    bot.poll_generation += 1
    bot.poll_terminated_reason = reason
    bot.updates.notify()


async def get_updates(call: Call) -> list[dict[str, Any]]:
    bot, store = call.bot, call.bot.updates
    if bot.webhook is not None:
        raise ApiError(409, WEBHOOK_ACTIVE)
    allowed = allowed_updates_param(call)
    if allowed is not None:
        bot.allowed_updates = allowed
    offset = call.params.integer("offset")
    if offset is not None and offset != 0:
        store.confirm(offset)
    limit = min(max(call.params.integer("limit", 100) or 100, 1), 100)
    timeout = min(max(call.params.number("timeout", 0.0), 0.0), call.services.config.max_poll_timeout)
    terminate_polls(call, TERMINATED_BY_POLL)
    generation = bot.poll_generation
    deadline = time.monotonic() + timeout
    while True:
        if bot.poll_generation != generation:
            raise ApiError(409, bot.poll_terminated_reason)
        store.purge_expired()
        updates = [item.payload for item in store.pending()[:limit]]
        remaining = deadline - time.monotonic()
        if updates or remaining <= 0:
            return updates
        await store.wait(remaining)


HANDLERS: dict[str, Handler] = {"getUpdates": get_updates}
