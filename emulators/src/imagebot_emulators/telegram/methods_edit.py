"""editMessageText, editMessageCaption, editMessageReplyMarkup and deleteMessage."""

from __future__ import annotations

from typing import Any

from .calls import Call, Handler, message_id_param, target_chat
from .errors import bad_request
from .keyboards import validate_markup
from .messages import StoredMessage, now
from .methods_send import caption, message_text

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


def _editable(call: Call) -> StoredMessage:
    chat = target_chat(call)
    stored = chat.live(message_id_param(call))
    if stored is None:
        raise bad_request("message to edit not found")
    if stored.sender != "bot":
        raise bad_request("message can't be edited")
    return stored


def _inline_markup(call: Call) -> dict[str, Any] | None:
    inline, other = validate_markup(call.params.json("reply_markup"))
    if other is not None:
        raise bad_request("inline keyboard expected")
    return inline


def _apply(stored: StoredMessage, fields: dict[str, Any], markup: dict[str, Any] | None) -> dict[str, Any]:
    """Set the new content; leaving reply_markup out of an edit removes the keyboard, as on Telegram."""
    message = stored.message
    unchanged = all((message.get(key) or None) == (value or None) for key, value in fields.items())
    if unchanged and message.get("reply_markup") == markup:
        raise bad_request(NOT_MODIFIED)
    for key, value in [*fields.items(), ("reply_markup", markup)]:
        if value:
            message[key] = value
        else:
            message.pop(key, None)
    message["edit_date"] = now()
    return message


async def edit_message_text(call: Call) -> dict[str, Any]:
    stored = _editable(call)
    if "text" not in stored.message:
        raise bad_request("there is no text in the message to edit")
    text, entities = message_text(call)
    return _apply(stored, {"text": text, "entities": entities}, _inline_markup(call))


async def edit_message_caption(call: Call) -> dict[str, Any]:
    stored = _editable(call)
    if "photo" not in stored.message:
        raise bad_request("there is no caption in the message to edit")
    text, entities = caption(call)
    return _apply(stored, {"caption": text, "caption_entities": entities}, _inline_markup(call))


async def edit_message_reply_markup(call: Call) -> dict[str, Any]:
    stored = _editable(call)
    return _apply(stored, {}, _inline_markup(call))


async def delete_message(call: Call) -> bool:
    chat = target_chat(call)
    stored = chat.live(message_id_param(call))
    if stored is None:
        raise bad_request("message to delete not found")
    stored.deleted = True
    return True


HANDLERS: dict[str, Handler] = {
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
}
