"""Builders for the User, Chat and Message objects Telegram puts on the wire."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

# Telegram finds commands anywhere in a text, as "/name" or "/name@botname" at a word start.
_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")


def now() -> int:
    return int(time.time())


def utf16_len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units, not code points."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[dict[str, Any]]:
    entities = []
    for match in _COMMAND_RE.finditer(text):
        offset = utf16_len(text[: match.start()])
        entities.append({"type": "bot_command", "offset": offset, "length": utf16_len(match.group())})
    return entities


def user_object(
    user_id: int,
    first_name: str,
    *,
    username: str | None = None,
    last_name: str | None = None,
    language_code: str | None = None,
    is_bot: bool = False,
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def chat_type_of(chat_id: int) -> str:
    # Supergroup and channel ids are -100xxxxxxxxxx; small negative ids are basic groups.
    if chat_id > 0:
        return "private"
    return "supergroup" if chat_id <= -1_000_000_000_000 else "group"


@dataclass
class StoredMessage:
    """A message of a chat as it currently is; `sender` is "user" or "bot"."""

    message: dict[str, Any]
    sender: str
    deleted: bool = False
    # Reply keyboards are not part of the returned Message, but a chat page needs to show them.
    reply_keyboard: dict[str, Any] | None = None

    def transcript_entry(self) -> dict[str, Any]:
        msg = self.message
        photo = msg.get("photo")
        return {
            "message_id": msg["message_id"],
            "sender": self.sender,
            "from_id": (msg.get("from") or {}).get("id"),
            "date": msg["date"],
            "text": msg.get("text"),
            "entities": msg.get("entities"),
            "caption": msg.get("caption"),
            "caption_entities": msg.get("caption_entities"),
            "photo": [size["file_id"] for size in photo] if photo else None,
            "reply_markup": msg.get("reply_markup"),
            "reply_keyboard": self.reply_keyboard,
            "reply_to_message_id": (msg.get("reply_to_message") or {}).get("message_id"),
            "edit_date": msg.get("edit_date"),
            "deleted": self.deleted,
            "message": msg,
        }


@dataclass
class Chat:
    id: int
    type: str
    first_name: str | None = None
    username: str | None = None
    title: str | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1

    def object(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name or "User"
            if self.username:
                chat["username"] = self.username
        else:
            chat["title"] = self.title or f"Group {self.id}"
        return chat

    def instance(self, bot_id: int) -> str:
        # chat_instance is an opaque signed 64-bit number, stable for a (bot, chat) pair.
        digest = hashlib.sha256(f"{bot_id}:{self.id}".encode()).digest()
        return str(int.from_bytes(digest[:8], "big", signed=True))

    def add(self, message: dict[str, Any], sender: str, reply_keyboard: dict[str, Any] | None = None) -> None:
        self.messages[message["message_id"]] = StoredMessage(message, sender, reply_keyboard=reply_keyboard)

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def live(self, message_id: int) -> StoredMessage | None:
        stored = self.messages.get(message_id)
        return stored if stored is not None and not stored.deleted else None

    def transcript(self) -> list[dict[str, Any]]:
        return [stored.transcript_entry() for stored in self.messages.values()]


def strip_reply(message: dict[str, Any]) -> dict[str, Any]:
    """A message as embedded in reply_to_message or a callback: Telegram nests only one level."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}
