"""Talking to Telegram through the session middleware: 429 honoured per chat, 5xx retried, the token never logged.
Against the Telegram emulator's fault injection."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from prometheus_client import REGISTRY

from tests.integration.dispatcher import conversation_harness
from tests.integration.dispatcher.conversation_harness import ChatDriver, MakeConversation

pytestmark = pytest.mark.integration

telegram_emulator = conversation_harness.telegram_emulator
make_conversation = conversation_harness.make_conversation

OTHER_USER = 555000222


def retry_after_count(method: str) -> float:
    value = REGISTRY.get_sample_value("imagebot_dispatcher_telegram_retry_after_total", {"method": method})
    return value or 0.0


async def test_a_429_is_waited_out_and_the_message_then_goes_through(make_conversation: MakeConversation):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)
    await control.fault("sendMessage", 429, retry_after=1)
    before = retry_after_count("sendMessage")

    started = time.monotonic()
    await chat.send("/start")

    assert time.monotonic() - started >= 1.0
    assert "Привет" in (await chat.last_bot_message())["text"]
    statuses = [call["status"] for call in await control.requests("sendMessage")]
    assert statuses == [429, 200]
    assert retry_after_count("sendMessage") == before + 1


async def test_a_429_in_one_chat_does_not_hold_up_another_chat(make_conversation: MakeConversation):
    conversation, control = await make_conversation()
    for user in (conversation_harness.USER_ID, OTHER_USER):
        await control.send_text(user, "hi")  # a bot can only write to users who wrote first
    await control.fault("sendMessage", 429, retry_after=2)

    async def timed_send(chat_id: int, delay: float) -> float:
        await asyncio.sleep(delay)
        started = time.monotonic()
        await conversation.bot.send_message(chat_id=chat_id, text=f"to {chat_id}")
        return time.monotonic() - started

    slow, fast = await asyncio.gather(timed_send(conversation_harness.USER_ID, 0), timed_send(OTHER_USER, 0.2))

    assert slow >= 2.0
    assert fast < 1.0


async def test_a_retry_after_longer_than_the_maximum_fails_the_call(make_conversation: MakeConversation):
    conversation, control = await make_conversation(telegram_max_retry_after_seconds=5)
    await control.send_text(conversation_harness.USER_ID, "hi")
    await control.fault("sendMessage", 429, retry_after=30)

    with pytest.raises(TelegramRetryAfter):
        await conversation.bot.send_message(chat_id=conversation_harness.USER_ID, text="x")


async def test_server_errors_are_retried_a_bounded_number_of_times(make_conversation: MakeConversation):
    conversation, control = await make_conversation(telegram_max_attempts=3)
    await control.send_text(conversation_harness.USER_ID, "hi")

    await control.fault("sendMessage", 502, count=2)
    await conversation.bot.send_message(chat_id=conversation_harness.USER_ID, text="after two 502s")
    assert [c["status"] for c in await control.requests("sendMessage")] == [502, 502, 200]

    await control.fault("sendMessage", 500, count=5)
    with pytest.raises(TelegramServerError):
        await conversation.bot.send_message(chat_id=conversation_harness.USER_ID, text="never")
    assert len(await control.requests("sendMessage")) == 3 + 3


async def test_a_lost_connection_is_retried(make_conversation: MakeConversation):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)
    await control.fault("sendMessage", "disconnect")

    await chat.send("/start")

    assert "Привет" in (await chat.last_bot_message())["text"]


async def test_the_token_never_reaches_the_logs(make_conversation: MakeConversation, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    conversation, control = await make_conversation(telegram_max_attempts=2)
    token = conversation.bot.token
    chat = ChatDriver(conversation, control)
    await control.fault("sendMessage", 429, retry_after=1)
    await control.fault("answerCallbackQuery", 500)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    await control.fault("sendMessage", "disconnect", count=5)
    with pytest.raises(TelegramNetworkError):
        await chat.send("/help")

    # Everything the service logged (httpx/httpcore are the test's own control-API client, not the bot).
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in records)
    assert "429" in logged and "network_error" in logged  # the failures were logged…
    assert token.split(":", 1)[1] not in logged  # …without the token
