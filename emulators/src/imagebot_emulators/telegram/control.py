"""Control API, acting side: play users (messages, button presses, raw updates), faults and resets.

Everything is JSON under /control/, so the tests and a browser chat page use the same calls.
"""

from __future__ import annotations

import copy
import gc
import random
import time
from typing import Any

from aiohttp import web

from .control_support import bot_of, fail, int_arg, json_body, services_of
from .faults import Fault
from .messages import Chat, command_entities, now, strip_reply, user_object
from .state import BotState, CallbackRecord
from .updates import update_kind
from .webhook import stop_delivery

_MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")


def _user(bot: BotState, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """The user's User object; names given once are remembered for later messages and presses."""
    known = bot.users.get(user_id, {})
    user = user_object(
        user_id,
        body.get("first_name") or known.get("first_name") or f"User {user_id}",
        username=body.get("username", known.get("username")),
        last_name=body.get("last_name", known.get("last_name")),
        language_code=body.get("language_code", known.get("language_code", "en")),
    )
    bot.users[user_id] = user
    return user


async def post_message(request: web.Request) -> web.Response:
    bot, user_id, body = bot_of(request), int_arg(request, "user_id"), await json_body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise fail(400, "text must be a non-empty string")
    chat_id = body.get("chat_id")
    if chat_id is not None and (not isinstance(chat_id, int) or (chat_id > 0 and chat_id != user_id)):
        raise fail(400, "chat_id must be the user's id (private chat) or a negative group id")
    user = _user(bot, user_id, body)
    chat = bot.chat_for_user(user_id, chat_id, user["first_name"], user.get("username"))
    message: dict[str, Any] = {
        "message_id": chat.take_message_id(),
        "from": user,
        "chat": chat.object(),
        "date": int(body.get("date") or now()),
        "text": text,
    }
    if entities := command_entities(text):
        message["entities"] = entities
    if (reply_id := body.get("reply_to_message_id")) is not None:
        replied = chat.live(int(reply_id))
        if replied is None:
            raise fail(404, "message to reply to not found")
        message["reply_to_message"] = strip_reply(replied.message)
    chat.add(message, "user")
    bot.blocked_users.discard(user_id)  # writing to a bot unblocks it
    item = bot.enqueue({"message": message})
    return web.json_response(
        {"update_id": item.update_id if item else None, "message_id": message["message_id"], "chat_id": chat.id}
    )


def _has_button(message: dict[str, Any], data: str) -> bool:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(button.get("callback_data") == data for row in rows for button in row)


async def post_callback(request: web.Request) -> web.Response:
    bot, user_id, body = bot_of(request), int_arg(request, "user_id"), await json_body(request)
    chat = bot.chats.get(body.get("chat_id") or user_id)
    message_id, data = body.get("message_id"), body.get("data")
    if chat is None:
        raise fail(404, "chat not found")
    stored = chat.live(message_id) if isinstance(message_id, int) else None
    if stored is None or stored.sender != "bot":
        raise fail(404, "no live bot message with this message_id in the chat")
    if not isinstance(data, str) or not data:
        raise fail(400, "data must be a non-empty string")
    # Telegram only lets users press buttons that exist; "check_button": false skips the check.
    if body.get("check_button", True) and not _has_button(stored.message, data):
        raise fail(400, "the message has no inline button with this callback_data")
    query_id = str(random.getrandbits(63))
    query = {
        "id": query_id,
        "from": _user(bot, user_id, body),
        "message": copy.deepcopy(stored.message),  # the message as it is when pressed
        "chat_instance": chat.instance(bot.bot_id),
        "data": data,
    }
    bot.callbacks[query_id] = CallbackRecord(query_id, time.monotonic(), user_id)
    item = bot.enqueue({"callback_query": query})
    return web.json_response({"update_id": item.update_id if item else None, "callback_query_id": query_id})


def _register_raw(bot: BotState, payload: dict[str, Any]) -> None:
    """Make what a raw update mentions known, so the bot can answer it like a real one."""
    kind = update_kind(payload)
    body = payload.get(kind)
    if not isinstance(body, dict):
        return
    if kind == "callback_query" and isinstance(body.get("id"), str):
        user_id = (body.get("from") or {}).get("id", 0)
        bot.callbacks.setdefault(body["id"], CallbackRecord(body["id"], time.monotonic(), user_id))
    chat_obj = body.get("chat")
    if kind in _MESSAGE_KINDS and isinstance(chat_obj, dict) and isinstance(chat_obj.get("id"), int):
        chat = bot.chats.setdefault(chat_obj["id"], Chat(chat_obj["id"], chat_obj.get("type", "private")))
        chat.first_name = chat_obj.get("first_name", chat.first_name)
        chat.username, chat.title = chat_obj.get("username", chat.username), chat_obj.get("title", chat.title)
        message_id = body.get("message_id")
        if isinstance(message_id, int) and message_id not in chat.messages:
            chat.add(body, "user")
            chat.next_message_id = max(chat.next_message_id, message_id + 1)


async def post_raw_update(request: web.Request) -> web.Response:
    bot, payload = bot_of(request), await json_body(request)
    if update_kind(payload) == "unknown":
        raise fail(400, "an update needs one field besides update_id")
    if "update_id" in payload and not isinstance(payload["update_id"], int):
        raise fail(400, "update_id must be an integer")
    _register_raw(bot, payload)
    item = bot.enqueue(payload)
    return web.json_response({"update_id": item.update_id if item else None, "queued": item is not None})


async def post_block(request: web.Request) -> web.Response:
    bot, user_id, body = bot_of(request), int_arg(request, "user_id"), await json_body(request)
    (bot.blocked_users.add if body.get("blocked", True) else bot.blocked_users.discard)(user_id)
    return web.json_response({"ok": True, "blocked": user_id in bot.blocked_users})


async def patch_bot(request: web.Request) -> web.Response:
    bot, body = bot_of(request), await json_body(request)
    bot.first_name = str(body.get("first_name", bot.first_name))
    bot.username = str(body.get("username", bot.username))
    return web.json_response(bot.me())


async def post_fault(request: web.Request) -> web.Response:
    bot, body = bot_of(request), await json_body(request)
    try:
        bot.faults.add(Fault.from_json(body))
    except ValueError as exc:
        raise fail(400, str(exc)) from None
    return web.json_response({"ok": True, "faults": bot.faults.describe()})


async def delete_faults(request: web.Request) -> web.Response:
    bot_of(request).faults.clear()
    return web.json_response({"ok": True, "faults": []})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(bot_of(request).faults.describe())


async def post_reset(request: web.Request) -> web.Response:
    registry = services_of(request).registry
    for bot in list(registry.bots.values()):
        await stop_delivery(bot)
        bot.updates.notify()
    registry.bots.clear()
    return web.json_response({"ok": True})


async def post_settle(request: web.Request) -> web.Response:
    """Freeze what the emulator holds now (bots, chats, the request log) out of the garbage collector. A
    benchmark calls it before a timed run: replies are timed by their arrival here, and a full collection
    walking everything earlier runs recorded (~100 ms after a few thousand chats) would land inside the run."""
    gc.collect()
    gc.freeze()
    return web.json_response({"ok": True, "frozen_objects": gc.get_freeze_count()})


async def get_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    bot = "/control/bots/{token}"
    app.router.add_post(f"{bot}/users/{{user_id}}/messages", post_message)
    app.router.add_post(f"{bot}/users/{{user_id}}/callbacks", post_callback)
    app.router.add_post(f"{bot}/users/{{user_id}}/block", post_block)
    app.router.add_post(f"{bot}/updates", post_raw_update)
    app.router.add_patch(bot, patch_bot)
    app.router.add_post(f"{bot}/faults", post_fault)
    app.router.add_delete(f"{bot}/faults", delete_faults)
    app.router.add_get(f"{bot}/faults", get_faults)
    app.router.add_post("/control/reset", post_reset)
    app.router.add_post("/control/settle", post_settle)
    app.router.add_get("/control/health", get_health)
