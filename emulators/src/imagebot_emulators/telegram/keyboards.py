"""reply_markup validation: the keyboard rules Telegram enforces, with its error texts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from .errors import bad_request

# Exactly one of these must accompany a button's text.
_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
MAX_BUTTONS = 100


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in _ACTIONS if name in button]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request("can't parse inline keyboard button: only one of the optional fields must be used")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        parsed = urlparse(str(button["url"]))
        if parsed.scheme not in ("http", "https", "tg") or not (parsed.netloc or parsed.scheme == "tg"):
            raise bad_request("BUTTON_URL_INVALID")


def validate_markup(markup: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Returns (inline keyboard for the Message, other keyboard for the transcript)."""
    if markup is None:
        return None, None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        if sum(len(row) for row in rows) > MAX_BUTTONS:
            raise bad_request("too many inline keyboard buttons")
        for row in rows:
            for button in row:
                _check_button(button)
        # An empty inline keyboard is the same as none: Telegram omits reply_markup then.
        return (markup if any(rows) else None), None
    if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
        return None, markup
    raise bad_request("can't parse reply keyboard markup JSON object")
