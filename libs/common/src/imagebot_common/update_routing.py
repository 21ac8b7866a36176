"""The lane key of a raw Telegram update: the chat it belongs to, else the user.

This mirrors aiogram's `resolve_event_context` (chat first, then user) on the raw dict, so the gateway can
route without building aiogram objects and the key equals the FSM key's chat. A user's button presses share
the lane of the chat their message is in, which keeps them in order with that user's messages.
tests/unit/test_update_routing.py checks it against aiogram for every update type.
"""

from __future__ import annotations

from typing import Any

# (update field, where the chat is, where the user is); paths are tuples of keys.
_ROUTES: tuple[tuple[str, tuple[str, ...] | None, tuple[str, ...] | None], ...] = (
    ("message", ("chat",), ("from",)),
    ("edited_message", ("chat",), ("from",)),
    ("channel_post", ("chat",), None),
    ("edited_channel_post", ("chat",), None),
    ("business_message", ("chat",), ("from",)),
    ("edited_business_message", ("chat",), ("from",)),
    ("deleted_business_messages", ("chat",), None),
    ("guest_message", ("chat",), ("from",)),
    ("inline_query", None, ("from",)),
    ("chosen_inline_result", None, ("from",)),
    ("callback_query", ("message", "chat"), ("from",)),
    ("shipping_query", None, ("from",)),
    ("pre_checkout_query", None, ("from",)),
    ("purchased_paid_media", None, ("from",)),
    ("poll_answer", ("voter_chat",), ("user",)),
    ("my_chat_member", ("chat",), ("from",)),
    ("chat_member", ("chat",), ("from",)),
    ("chat_join_request", ("chat",), ("from",)),
    ("message_reaction", ("chat",), ("user",)),
    ("message_reaction_count", ("chat",), None),
    ("chat_boost", ("chat",), None),
    ("removed_chat_boost", ("chat",), None),
    ("business_connection", None, ("user",)),
    ("managed_bot", None, ("user",)),
)

NO_CHAT_KEY = 0  # updates with neither chat nor user (polls) share one lane


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _id_of(obj: Any) -> int | None:
    if isinstance(obj, dict):
        value = obj.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def update_chat_key(update: dict[str, Any]) -> int:
    """The chat id of the update if it has a chat, else the user id, else NO_CHAT_KEY."""
    for field, chat_path, user_path in _ROUTES:
        event = update.get(field)
        if event is None:
            continue
        if chat_path is not None:
            chat_id = _id_of(_dig(event, chat_path))
            if chat_id is not None:
                return chat_id
        if user_path is not None:
            user_id = _id_of(_dig(event, user_path))
            if user_id is not None:
                return user_id
        return NO_CHAT_KEY
    return NO_CHAT_KEY


def update_type(update: dict[str, Any]) -> str:
    """The name of the update's payload field (`message`, `callback_query`...), or `unknown`."""
    for key in update:
        if key != "update_id":
            return key
    return "unknown"
