"""What every method handler gets, and the lookups most of them share (target chat, replied message)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request
from .messages import Chat, StoredMessage, now, strip_reply
from .params import Params
from .state import BotState, Services


@dataclass
class Call:
    services: Services
    bot: BotState
    params: Params


Handler = Callable[[Call], Awaitable[Any]]


def target_chat(call: Call) -> Chat:
    """The chat in `chat_id`; a bot can only write to chats that have written to it first."""
    raw = call.params.text("chat_id")
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    chat: Chat | None = None
    if raw.startswith("@"):
        chat = next((c for c in call.bot.chats.values() if c.username and f"@{c.username}" == raw), None)
    else:
        try:
            chat = call.bot.chats.get(int(raw))
        except ValueError:
            chat = None
    if chat is None:
        raise bad_request("chat not found")
    if chat.type == "private" and chat.id in call.bot.blocked_users:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    return chat


def message_id_param(call: Call) -> int:
    message_id = call.params.integer("message_id")
    if message_id is None:
        if call.params.has("inline_message_id"):
            raise bad_request("inline messages are not emulated; use chat_id and message_id")
        raise bad_request("message identifier is not specified")
    return message_id


def _replied(call: Call, chat: Chat) -> StoredMessage | None:
    reply = call.params.json("reply_parameters")
    if isinstance(reply, dict):
        message_id, lenient = reply.get("message_id"), bool(reply.get("allow_sending_without_reply"))
    else:
        message_id = call.params.integer("reply_to_message_id")
        lenient = call.params.boolean("allow_sending_without_reply")
    if message_id is None:
        return None
    stored = chat.live(int(message_id))
    if stored is None and not lenient:
        raise bad_request("message to be replied not found")
    return stored


def new_message(call: Call, chat: Chat) -> dict[str, Any]:
    """The common head of a message the bot sends: id, sender, chat, date and what it replies to."""
    replied = _replied(call, chat)
    message: dict[str, Any] = {
        "message_id": chat.take_message_id(),
        "from": call.bot.sender(),
        "chat": chat.object(),
        "date": now(),
    }
    if replied is not None:
        message["reply_to_message"] = strip_reply(replied.message)
    if call.params.boolean("protect_content"):
        message["has_protected_content"] = True
    return message
