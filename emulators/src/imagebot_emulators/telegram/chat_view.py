"""What the chat page shows of one private chat: the bot, the live messages, the chat action, the menu."""

from __future__ import annotations

import json
import time
from typing import Any

from .messages import Chat, StoredMessage
from .state import BotState

# Telegram shows a chat action for 5 s, or until the bot sends something to the chat.
ACTION_SECONDS = 5.0
# An answerCallbackQuery text is shown as a toast for a few seconds.
TOAST_SECONDS = 4.0
_SENDS = frozenset({"sendMessage", "sendPhoto", "sendChatAction"})
# The largest photo size the page loads: enough for a bubble, far lighter than an original.
_DISPLAY_SIDE = 1280


def _photo(message: dict[str, Any]) -> dict[str, Any] | None:
    sizes = message.get("photo")
    if not sizes:
        return None
    fitting = [s for s in sizes if max(s["width"], s["height"]) <= _DISPLAY_SIDE]
    best = fitting[-1] if fitting else sizes[0]
    return {"file_id": best["file_id"], "width": best["width"], "height": best["height"]}


def _message(stored: StoredMessage) -> dict[str, Any]:
    msg = stored.message
    return {
        "message_id": msg["message_id"],
        "sender": stored.sender,
        "date": msg["date"],
        "text": msg.get("text"),
        "entities": msg.get("entities") or [],
        "caption": msg.get("caption"),
        "caption_entities": msg.get("caption_entities") or [],
        "photo": _photo(msg),
        "inline_keyboard": (msg.get("reply_markup") or {}).get("inline_keyboard"),
        "reply_keyboard": stored.reply_keyboard,
        "reply_to_message_id": (msg.get("reply_to_message") or {}).get("message_id"),
        "edited": "edit_date" in msg,
    }


def _chat_action(bot: BotState, chat_id: int, now: float) -> tuple[str | None, float | None]:
    """The action the bot shows in the chat now and when it ends, read from the request log.

    The last successful send to the chat decides: a sendChatAction less than 5 s old is shown, any message
    sent after it hides it. Only the last 5 s of the log can matter, so the scan stops there.
    """
    for record in reversed(bot.requests):
        if record["time"] < now - ACTION_SECONDS:
            break
        if record["method"] not in _SENDS or not record.get("ok"):
            continue
        if str(record["params"].get("chat_id")) != str(chat_id):
            continue
        if record["method"] != "sendChatAction":
            return None, None
        return str(record["params"].get("action")), record["time"] + ACTION_SECONDS
    return None, None


def _toast(bot: BotState, user_id: int, now: float) -> tuple[dict[str, Any] | None, float | None]:
    for answer in reversed(bot.callback_answers):
        if answer["time"] < now - TOAST_SECONDS:
            break
        if answer["user_id"] == user_id and answer.get("text"):
            toast = {"id": answer["callback_query_id"], "text": answer["text"], "alert": answer["show_alert"]}
            return toast, answer["time"] + TOAST_SECONDS
    return None, None


def _commands(bot: BotState, chat_id: int, language: str) -> list[dict[str, Any]]:
    """The menu the user would see: the narrowest scope and language that has commands, as Telegram picks."""
    scopes = ({"type": "chat", "chat_id": chat_id}, {"type": "all_private_chats"}, {"type": "default"})
    for scope in scopes:
        for lang in dict.fromkeys((language, "")):
            commands = bot.commands.get(json.dumps(scope, sort_keys=True) + "|" + lang)
            if commands:
                return commands
    return []


def _users(bot: BotState) -> list[dict[str, Any]]:
    return [
        {"id": u["id"], "first_name": u["first_name"], "language_code": u.get("language_code", "")}
        for u in bot.users.values()
        if u["id"] > 0 and not u.get("is_bot")
    ]


def chat_view(bot: BotState | None, chat_id: int) -> tuple[dict[str, Any], float | None]:
    """The page's state of the chat, and the time (epoch seconds) it changes by itself (an action ends)."""
    if bot is None:
        return {"bot": None}, None
    now = time.time()
    chat: Chat | None = bot.chats.get(chat_id)
    language = str(bot.users.get(chat_id, {}).get("language_code", ""))
    action, action_ends = _chat_action(bot, chat_id, now)
    toast, toast_ends = _toast(bot, chat_id, now)
    view = {
        "bot": bot.me(),
        "connected": bot.webhook is not None or bot.poll_generation > 0,
        "commands": _commands(bot, chat_id, language),
        "users": _users(bot),
        "messages": [_message(m) for m in chat.messages.values() if not m.deleted] if chat else [],
        "action": action,
        "toast": toast,
    }
    ends = [t for t in (action_ends, toast_ends) if t is not None]
    return view, min(ends) if ends else None


def bots_view(bots: dict[str, BotState]) -> dict[str, Any]:
    return {"bots": [{"token": bot.token, "me": bot.me()} for bot in bots.values()]}
