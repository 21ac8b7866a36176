"""The whole picture flow, end to end: Telegram emulator → gateway → dispatcher → imagegen → Kie emulator →
photo in the chat. Every part is a real process; only Telegram and Kie.ai are emulated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import (
    STACK_CALLBACK_TOKEN,
    STACK_KIE_KEY,
    STACK_TOKEN,
    STACK_WEBHOOK_SECRET,
    Stack,
    start_stack,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

USER = 5150


@pytest.fixture
def stack(nats_url: str, js) -> Iterator[Stack]:
    running = start_stack(nats_url)
    yield running
    running.stop()


def bot_messages(transcript: list[dict]) -> list[dict]:
    return [m for m in transcript if m["sender"] == "bot" and not m.get("deleted")]


def button(message: dict, text_part: str) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for key in row:
            if text_part in key["text"]:
                return key["callback_data"]
    raise AssertionError(f"no button with {text_part!r} in {message.get('reply_markup')}")


async def wait_for_bot_message(stack: Stack, predicate, timeout: float = 20.0) -> dict:
    async def found() -> dict | None:
        return next((m for m in reversed(bot_messages(await stack.user.transcript(USER))) if predicate(m)), None)

    return await wait_until(found, timeout=timeout, interval=0.1, message="a bot message")


async def ask_for_a_picture(stack: Stack, prompt: str = "кот-космонавт") -> None:
    """/start → "Создать картинку" → prompt → 1:1, as a user would."""
    await stack.user.send_text(USER, "/start", first_name="Аня", language_code="ru")
    menu = await wait_for_bot_message(stack, lambda m: m.get("reply_markup") and "Создать" in str(m["reply_markup"]))
    await stack.user.press(USER, menu["message_id"], button(menu, "Создать картинку"))
    await wait_for_bot_message(stack, lambda m: "Опишите" in (m.get("text") or ""))
    await stack.user.send_text(USER, prompt, language_code="ru")
    formats = await wait_for_bot_message(stack, lambda m: "1:1" in str(m.get("reply_markup") or ""))
    await stack.user.press(USER, formats["message_id"], button(formats, "1:1"))


async def make_a_picture(stack: Stack, prompt: str = "кот-космонавт") -> dict:
    await ask_for_a_picture(stack, prompt)
    return await wait_for_bot_message(stack, lambda m: m.get("photo"), timeout=40)


async def test_a_user_gets_the_picture_they_described_as_an_uploaded_photo(stack: Stack):
    photo = await make_a_picture(stack, "кот-космонавт")

    assert "кот-космонавт" in (photo.get("caption") or "")
    assert "Создать ещё" in str(photo["reply_markup"])
    uploads = [r for r in await stack.user.requests("sendPhoto") if r.get("ok")]
    assert len(uploads) == 1
    assert "upload" in str(uploads[0]["params"])  # bytes, not a provider URL
    transcript = await stack.user.transcript(USER)
    assert any("Генерирую" in (m.get("text") or "") or "Готово" in (m.get("text") or "") for m in transcript)
    creates = await stack.kie().successful_creates()
    assert len(creates) == 1


async def test_no_secret_appears_in_any_log_line_of_an_end_to_end_run(stack: Stack):
    await make_a_picture(stack)

    logs = stack.logs()
    for secret in (STACK_TOKEN, STACK_TOKEN.split(":")[1], STACK_WEBHOOK_SECRET, STACK_KIE_KEY, STACK_CALLBACK_TOKEN):
        assert secret not in logs


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"endpoint": "createTask", "code": 402}, "закончились кредиты"),
        ({"endpoint": "task", "fail_code": "501", "fail_msg": "Generation failed"}, "Не получилось"),
    ],
    ids=["insufficient-credits-402", "generation-failed-501"],
)
async def test_a_provider_refusal_reaches_the_user_as_a_clear_message_with_a_retry_button(
    stack: Stack, fault: dict, expected: str
):
    kie = stack.kie()
    await kie.fault(**fault)

    await ask_for_a_picture(stack)
    failure = await wait_for_bot_message(stack, lambda m: expected in (m.get("text") or ""), timeout=40)

    assert "Попробовать снова" in str(failure["reply_markup"])
    await kie.aclose()
