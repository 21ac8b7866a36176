"""The gateway's lane key equals the chat aiogram resolves for the FSM, for every kind of update."""

from __future__ import annotations

import pytest
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.types import Update

from imagebot_common.update_routing import NO_CHAT_KEY, update_chat_key, update_type

pytestmark = pytest.mark.unit

USER = {"id": 111, "is_bot": False, "first_name": "Ann"}
PRIVATE = {"id": 111, "type": "private", "first_name": "Ann"}
GROUP = {"id": -100200300, "type": "supergroup", "title": "g"}
MESSAGE = {"message_id": 5, "date": 1, "chat": GROUP, "from": USER, "text": "hi"}

UPDATES = {
    "message in a group": {"message": MESSAGE},
    "private message": {"message": {**MESSAGE, "chat": PRIVATE}},
    "edited message": {"edited_message": {**MESSAGE, "edit_date": 2}},
    "channel post": {"channel_post": {"message_id": 1, "date": 1, "chat": {"id": -1009, "type": "channel"}}},
    "callback on a group message": {
        "callback_query": {"id": "q", "from": USER, "chat_instance": "ci", "data": "d", "message": MESSAGE}
    },
    "inline callback without message": {
        "callback_query": {"id": "q", "from": USER, "chat_instance": "ci", "inline_message_id": "x", "data": "d"}
    },
    "inline query": {"inline_query": {"id": "i", "from": USER, "query": "q", "offset": ""}},
    "my chat member": {
        "my_chat_member": {
            "chat": PRIVATE,
            "from": USER,
            "date": 1,
            "old_chat_member": {"status": "member", "user": USER},
            "new_chat_member": {"status": "kicked", "user": USER, "until_date": 0},
        }
    },
    "pre checkout": {
        "pre_checkout_query": {
            "id": "p",
            "from": USER,
            "currency": "XTR",
            "total_amount": 1,
            "invoice_payload": "x",
        }
    },
    "poll": {
        "poll": {
            "id": "p",
            "question": "q",
            "options": [],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
    },
}


def aiogram_key(raw: dict) -> int:
    context = UserContextMiddleware.resolve_event_context(Update.model_validate({"update_id": 1, **raw}))
    if context.chat is not None:
        return context.chat.id
    if context.user is not None:
        return context.user.id
    return NO_CHAT_KEY


@pytest.mark.parametrize("raw", UPDATES.values(), ids=UPDATES.keys())
def test_the_lane_key_is_the_chat_aiogram_resolves_else_the_user(raw: dict):
    assert update_chat_key({"update_id": 1, **raw}) == aiogram_key(raw)


def test_a_users_button_press_shares_the_lane_of_their_messages_in_that_chat():
    press = UPDATES["callback on a group message"]
    assert update_chat_key({"update_id": 2, **press}) == update_chat_key({"update_id": 1, "message": MESSAGE})


@pytest.mark.parametrize("raw", [{}, {"message": "x"}, {"message": {"chat": {"id": "7"}}}, {"message": None}])
def test_malformed_updates_fall_back_to_the_shared_lane_instead_of_failing(raw: dict):
    assert update_chat_key({"update_id": 1, **raw}) == NO_CHAT_KEY


def test_the_update_type_is_the_payload_field():
    assert update_type({"update_id": 1, "callback_query": {}}) == "callback_query"
    assert update_type({"update_id": 1}) == "unknown"
