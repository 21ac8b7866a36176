"""Users who ask the bot for a picture through the Telegram emulator, the way a person taps through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.emulators import TelegramControl
from tests.support.waiting import wait_until

Message = dict[str, Any]


def bot_messages(transcript: list[Message]) -> list[Message]:
    return [m for m in transcript if m["sender"] == "bot" and not m.get("deleted")]


def button(message: Message, text_part: str) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for key in row:
            if text_part in key["text"]:
                return key["callback_data"]
    raise AssertionError(f"no button with {text_part!r} in {message.get('reply_markup')}")


async def wait_for_bot_message(
    control: TelegramControl, user: int, predicate: Callable[[Message], Any], timeout: float = 30.0
) -> Message:
    async def found() -> Message | None:
        return next((m for m in reversed(bot_messages(await control.transcript(user))) if predicate(m)), None)

    return await wait_until(found, timeout=timeout, interval=0.2, message=f"a bot message to {user}")


async def request_picture(control: TelegramControl, user: int, prompt: str) -> None:
    """/start → "Создать картинку" → the prompt → 1:1; returns once the format is chosen (the job is on its way)."""
    await control.send_text(user, "/start", first_name=f"U{user}", language_code="ru")
    menu = await wait_for_bot_message(control, user, lambda m: "Создать" in str(m.get("reply_markup") or ""))
    await control.press(user, menu["message_id"], button(menu, "Создать картинку"))
    await wait_for_bot_message(control, user, lambda m: "Опишите" in (m.get("text") or ""))
    await control.send_text(user, prompt, language_code="ru")
    formats = await wait_for_bot_message(control, user, lambda m: "1:1" in str(m.get("reply_markup") or ""))
    await control.press(user, formats["message_id"], button(formats, "1:1"))


async def photos_of(control: TelegramControl, user: int) -> list[Message]:
    return [m for m in bot_messages(await control.transcript(user)) if m.get("photo")]
