"""sendMessage, sendPhoto and sendChatAction."""

from __future__ import annotations

import time
from typing import Any

from .calls import Call, Handler, new_message, target_chat
from .errors import ApiError, bad_request
from .files import MAX_UPLOAD_PHOTO, StoredFile, download
from .keyboards import validate_markup
from .messages import utf16_len
from .params import Upload
from .parse_mode import parse_text

MAX_TEXT = 4096
MAX_CAPTION = 1024
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def message_text(call: Call) -> tuple[str, list[dict[str, Any]]]:
    raw = call.params.text("text")
    if raw is None or not raw.strip():
        raise bad_request("message text is empty")
    text, entities = parse_text(raw, call.params.text("parse_mode"), call.params.json("entities"))
    if not text:
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    return text, entities


def caption(call: Call) -> tuple[str | None, list[dict[str, Any]]]:
    raw = call.params.text("caption")
    if raw is None:
        return None, []
    text, entities = parse_text(raw, call.params.text("parse_mode"), call.params.json("caption_entities"))
    if utf16_len(text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return text or None, entities


async def send_message(call: Call) -> dict[str, Any]:
    chat = target_chat(call)
    text, entities = message_text(call)
    inline, other = validate_markup(call.params.json("reply_markup"))
    message = new_message(call, chat)
    message["text"] = text
    if entities:
        message["entities"] = entities
    if inline:
        message["reply_markup"] = inline
    chat.add(message, "bot", reply_keyboard=other)
    return message


async def _photo_sizes(call: Call) -> list[StoredFile]:
    photo = call.params.file("photo")
    files = call.bot.files
    if isinstance(photo, Upload):
        if len(photo.data) > MAX_UPLOAD_PHOTO:
            raise ApiError(413, "Request Entity Too Large")
        return files.add_photo(photo.data)
    if not photo:
        raise bad_request("there is no photo in the request")
    if photo.startswith(("http://", "https://")):
        config = call.services.config
        return files.add_photo(await download(call.services.client(), photo, config.download_timeout))
    return files.photo_by_id(photo)


async def send_photo(call: Call) -> dict[str, Any]:
    chat = target_chat(call)
    text, entities = caption(call)
    inline, other = validate_markup(call.params.json("reply_markup"))
    sizes = await _photo_sizes(call)
    message = new_message(call, chat)
    message["photo"] = [size.photo_size() for size in sizes]
    if text:
        message["caption"] = text
        if entities:
            message["caption_entities"] = entities
    if call.params.boolean("has_spoiler"):
        message["has_media_spoiler"] = True
    if call.params.boolean("show_caption_above_media"):
        message["show_caption_above_media"] = True
    if inline:
        message["reply_markup"] = inline
    chat.add(message, "bot", reply_keyboard=other)
    return message


async def send_chat_action(call: Call) -> bool:
    chat = target_chat(call)
    action = call.params.text("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    call.bot.chat_actions.append(
        {
            "chat_id": chat.id,
            "action": action,
            "message_thread_id": call.params.integer("message_thread_id"),
            "time": time.time(),
        }
    )
    return True


HANDLERS: dict[str, Handler] = {
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "sendChatAction": send_chat_action,
}
