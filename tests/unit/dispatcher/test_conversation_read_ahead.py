"""The FSM record read ahead of an update is the one aiogram's FSM middleware then asks for, whatever the update."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.strategy import FSMStrategy
from aiogram.types import Update

from imagebot_dispatcher.conversation.read_ahead import fsm_key_of

USER = {"id": 5, "is_bot": False, "first_name": "Ann"}
GROUP = {"id": -1001, "type": "supergroup", "title": "g", "is_forum": True}


def message(chat: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"message_id": 1, "date": 0, "chat": chat, "from": USER, "text": "hi", **extra}


UPDATES = {
    "private message": {"message": message({"id": 5, "type": "private"})},
    "group message": {"message": message(GROUP)},
    "forum topic message": {"message": message(GROUP, message_thread_id=9, is_topic_message=True)},
    "edited message": {"edited_message": message(GROUP, edit_date=1)},
    "callback query": {"callback_query": {"id": "c", "from": USER, "chat_instance": "i", "data": "x",
                                          "message": message(GROUP)}},
    "inline query (no chat)": {"inline_query": {"id": "q", "from": USER, "query": "", "offset": ""}},
    "bot blocked": {"my_chat_member": {
        "chat": {"id": 5, "type": "private"}, "from": USER, "date": 0,
        "old_chat_member": {"status": "member", "user": USER},
        "new_chat_member": {"status": "kicked", "user": USER, "until_date": 0},
    }},
    "business message": {"business_message": message({"id": 5, "type": "private"}, business_connection_id="b-1")},
    "poll (nobody's)": {"poll": {"id": "p", "question": "?", "options": [], "total_voter_count": 0,
                                 "is_closed": False, "is_anonymous": True, "type": "regular",
                                 "allows_multiple_answers": False, "allows_revoting": False,
                                 "members_only": False}},
}  # fmt: skip


async def key_aiogram_resolves(dp: Dispatcher, bot: Bot, update: Update) -> StorageKey | None:
    resolved: list[StorageKey | None] = []

    async def note_key(handler: Any, event: Any, data: dict[str, Any]) -> None:
        state = data.get("state")
        resolved.append(state.key if state is not None else None)

    dp.update.outer_middleware(note_key)  # after aiogram's own user-context and FSM middlewares
    await dp.feed_update(bot, update)
    return resolved[0]


@pytest.mark.parametrize("strategy", [FSMStrategy.USER_IN_CHAT, FSMStrategy.USER_IN_TOPIC, FSMStrategy.CHAT])
@pytest.mark.parametrize("kind", list(UPDATES))
async def test_the_key_read_ahead_is_the_key_aiogram_resolves(kind: str, strategy: FSMStrategy):
    bot = Bot("42:AAtest-token-not-used")
    dp = Dispatcher(fsm_strategy=strategy)
    update = Update.model_validate({"update_id": 1, **UPDATES[kind]}, context={"bot": bot})

    assert fsm_key_of(dp.fsm, bot, update) == await key_aiogram_resolves(dp, bot, update)


async def test_updates_of_a_conversation_have_a_key_and_a_poll_has_none():
    bot, dp = Bot("42:AAtest-token-not-used"), Dispatcher()
    keys = {
        kind: fsm_key_of(dp.fsm, bot, Update.model_validate({"update_id": 1, **raw})) for kind, raw in UPDATES.items()
    }

    assert keys["group message"] == StorageKey(bot_id=42, chat_id=-1001, user_id=5)
    assert keys["business message"] == StorageKey(bot_id=42, chat_id=5, user_id=5, business_connection_id="b-1")
    assert keys["poll (nobody's)"] is None
