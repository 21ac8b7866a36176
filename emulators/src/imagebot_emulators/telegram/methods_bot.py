"""getMe, getFile, answerCallbackQuery, getChat and the bot command list."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from .calls import Call, Handler, target_chat
from .errors import bad_request

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


async def get_me(call: Call) -> dict[str, Any]:
    return call.bot.me()


async def get_file(call: Call) -> dict[str, Any]:
    stored = call.bot.files.files.get(call.params.text("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    return stored.file_object()


async def get_chat(call: Call) -> dict[str, Any]:
    chat = target_chat(call)
    gifts = {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False, "premium_subscription": False}
    return {
        **chat.object(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {**gifts, "gifts_from_channels": False},
    }


async def answer_callback_query(call: Call) -> bool:
    query_id = call.params.text("callback_query_id") or ""
    record = call.bot.callbacks.get(query_id)
    window = call.services.config.callback_answer_window
    if record is None or record.answered or time.monotonic() - record.created > window:
        raise bad_request(QUERY_TOO_OLD)
    text = call.params.text("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    record.answered = True
    call.bot.callback_answers.append(
        {
            "callback_query_id": query_id,
            "user_id": record.user_id,
            "text": text,
            "show_alert": call.params.boolean("show_alert"),
            "url": call.params.text("url"),
            "cache_time": call.params.integer("cache_time", 0),
            "latency": time.monotonic() - record.created,
            "time": time.time(),
        }
    )
    return True


def _commands_key(call: Call) -> str:
    scope = call.params.json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True) + "|" + (call.params.text("language_code") or "")


async def set_my_commands(call: Call) -> bool:
    commands = call.params.json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.fullmatch(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    key = _commands_key(call)
    cleaned = [{"command": c["command"], "description": c["description"]} for c in commands]
    if cleaned:
        call.bot.commands[key] = cleaned
    else:
        call.bot.commands.pop(key, None)
    return True


async def get_my_commands(call: Call) -> list[dict[str, Any]]:
    return call.bot.commands.get(_commands_key(call), [])


async def delete_my_commands(call: Call) -> bool:
    call.bot.commands.pop(_commands_key(call), None)
    return True


HANDLERS: dict[str, Handler] = {
    "getMe": get_me,
    "getFile": get_file,
    "getChat": get_chat,
    "answerCallbackQuery": answer_callback_query,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
}
