"""What the conversation reads before an update runs: the update parsed once, and its conversation's FSM record.

The engine calls `Conversation.read_ahead` as soon as the update comes, beside its own "was this update handled
already?" check when it needs one, so the FSM record's server round trip overlaps that one instead of following it:
at 300 /start per s, one wait of the dispatcher's busy event loop less per update (bench, e2e). The record's key is
aiogram's own: the event context its UserContextMiddleware gives the update, through the FSM middleware's strategy.
Should the two ever differ, the handler's first read simply asks the server, as it would without a read ahead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Update

from imagebot_dispatcher.conversation.fsm_storage import NatsKvStorage, RecordReadAhead

log = logging.getLogger("imagebot.dispatcher.conversation")


@dataclass(frozen=True)
class UpdateReadAhead:
    update: Update
    fsm_record: RecordReadAhead | None  # None: the update belongs to no conversation (e.g. an inline query)


def parse_update(bot: Bot, raw_update: dict[str, Any]) -> Update:
    """What aiogram's feed_raw_update does first: the Update, bound to the bot (raises ValidationError)."""
    return Update.model_validate(raw_update, context={"bot": bot})


def fsm_key_of(fsm: FSMContextMiddleware, bot: Bot, update: Update) -> StorageKey | None:
    """The storage key aiogram's FSM middleware will resolve for this update."""
    event = UserContextMiddleware.resolve_event_context(update)
    context = fsm.resolve_context(
        bot,
        chat_id=event.chat_id,
        user_id=event.user_id,
        thread_id=event.thread_id,
        business_connection_id=event.business_connection_id,
    )
    return context.key if context is not None else None


async def read_ahead(
    fsm: FSMContextMiddleware, storage: NatsKvStorage, bot: Bot, raw_update: dict[str, Any]
) -> UpdateReadAhead | None:
    """None when any of it fails (an update aiogram cannot parse, an unreadable record): handling the update
    then does the same work itself, and fails it the usual way, retried and dead-lettered."""
    try:
        update = parse_update(bot, raw_update)
        key = fsm_key_of(fsm, bot, update)
        return UpdateReadAhead(update, await storage.read_ahead(key) if key is not None else None)
    except Exception as exc:
        log.debug("no read ahead of update %s: %s", raw_update.get("update_id"), type(exc).__name__)
        return None
