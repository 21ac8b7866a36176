"""Outbound pacing and the session middleware's retry rules, with a fake clock and a scripted Telegram."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, SendMessage, SendPhoto, SetMyCommands

from imagebot_dispatcher.conversation.rate_limits import OutboundLimiter, TelegramLimits, TokenBucket
from imagebot_dispatcher.conversation.telegram_session import RetryPolicy, TelegramRequestPolicy, counts_as_message
from tests.support.fake_clock import FakeClock

pytestmark = pytest.mark.unit


class ScriptedTelegram:
    """make_request that fails as scripted (one exception per call), then answers True."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[str, float]] = []
        self.clock: FakeClock | None = None

    async def __call__(self, bot: Any, method: Any) -> bool:
        self.calls.append((method.__api_method__, self.clock.now if self.clock else 0.0))
        if self.failures:
            raise self.failures.pop(0)
        return True


def policy(clock: FakeClock, limits: TelegramLimits | None = None, **retry: Any) -> TelegramRequestPolicy:
    limiter = OutboundLimiter(limits or TelegramLimits(), clock=clock)
    return TelegramRequestPolicy(limiter, RetryPolicy(backoff_seconds=0.5, **retry), sleep=clock.sleep)


def message(chat_id: int | str = 1) -> SendMessage:
    return SendMessage(chat_id=chat_id, text="x")


def test_a_bucket_allows_its_burst_then_paces_at_its_rate():
    bucket = TokenBucket(rate=1.0, capacity=2, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(4)] == [0.0, 0.0, 1.0, 2.0]
    assert bucket.reserve(10.0) == 0.0  # refilled while idle


def test_chats_are_paced_independently_and_groups_also_per_minute():
    clock = FakeClock()
    limiter = OutboundLimiter(TelegramLimits(chat_rate=1.0, chat_burst=1, group_per_minute=20), clock=clock)
    assert limiter.reserve_chat(1) == 0.0
    assert limiter.reserve_chat(1) == pytest.approx(1.0)
    assert limiter.reserve_chat(2) == 0.0  # another chat is not held up

    waits = []
    for _ in range(8):
        waits.append(limiter.reserve_chat(-100))
        clock.now += 1.0  # one per second: fine for the per-chat bucket…
    # …but a group gets a burst of 5, then one per 4 s: never more than 20 in any minute
    assert waits[:5] == [0.0] * 5
    assert waits[5] == pytest.approx(0.0) and waits[6] == pytest.approx(2.0)


def test_a_group_never_gets_more_than_its_per_minute_limit_in_any_minute():
    clock = FakeClock()
    limiter = OutboundLimiter(TelegramLimits(chat_rate=100.0, chat_burst=100, group_per_minute=20), clock=clock)
    sent_at = []
    for _ in range(60):
        wait = limiter.reserve_chat(-100)
        clock.now += wait
        sent_at.append(clock.now)
    assert all(sum(1 for t in sent_at if start <= t < start + 60) <= 20 for start in sent_at)


def test_the_global_bucket_caps_all_chats_together():
    clock = FakeClock()
    limiter = OutboundLimiter(TelegramLimits(global_rate=30.0), clock=clock)
    sent_at = []
    for _ in range(100):
        clock.now += limiter.reserve_global()
        sent_at.append(clock.now)
    assert all(sum(1 for t in sent_at if start <= t < start + 1.0) <= 30 for start in sent_at)


def test_which_methods_count_as_messages():
    assert counts_as_message("sendMessage") and counts_as_message("sendPhoto") and counts_as_message("editMessageText")
    assert counts_as_message("copyMessage")
    assert not counts_as_message("answerCallbackQuery")
    assert not counts_as_message("sendChatAction") and not counts_as_message("setMyCommands")


async def test_a_429_waits_retry_after_and_repeats_the_call():
    clock = FakeClock()
    telegram = ScriptedTelegram(TelegramRetryAfter(method=message(), message="Too Many Requests", retry_after=3))
    telegram.clock = clock

    assert await policy(clock)(telegram, None, message()) is True

    assert [t for _, t in telegram.calls] == [1000.0, 1003.0]


async def test_a_429_pauses_only_its_chat():
    clock = FakeClock()
    middleware = policy(clock, TelegramLimits(chat_burst=5))
    telegram = ScriptedTelegram(TelegramRetryAfter(method=message(1), message="flood", retry_after=5))
    telegram.clock = clock
    await middleware(telegram, None, message(1))

    assert middleware.limiter.reserve_chat(1) == 0.0  # the pause is over by now (fake time moved)
    middleware.limiter.pause(1, 10)
    assert middleware.limiter.reserve_chat(1) == pytest.approx(10)
    assert middleware.limiter.reserve_chat(2) == 0.0
    assert middleware.limiter.pause_remaining(None) == 0.0


async def test_a_429_on_a_call_without_chat_pauses_everyone():
    clock = FakeClock()
    middleware = policy(clock)
    method = SetMyCommands(commands=[])
    telegram = ScriptedTelegram(TelegramRetryAfter(method=method, message="flood", retry_after=4))
    telegram.clock = clock
    middleware.limiter.pause(None, 4)
    assert middleware.limiter.pause_remaining(7) == pytest.approx(4)


async def test_a_retry_after_beyond_the_maximum_is_raised_not_waited():
    clock = FakeClock()
    telegram = ScriptedTelegram(TelegramRetryAfter(method=message(), message="flood", retry_after=600))
    with pytest.raises(TelegramRetryAfter):
        await policy(clock, max_retry_after=60)(telegram, None, message())
    assert clock.now == 1000.0


async def test_too_many_429s_in_a_row_give_up():
    clock = FakeClock()
    flood = [TelegramRetryAfter(method=message(), message="flood", retry_after=1) for _ in range(3)]
    with pytest.raises(TelegramRetryAfter):
        await policy(clock, max_retry_after_waits=2)(ScriptedTelegram(*flood), None, message())


async def test_server_and_network_errors_are_retried_with_growing_backoff_then_raised():
    clock = FakeClock()
    telegram = ScriptedTelegram(
        TelegramServerError(method=message(), message="Bad Gateway"),
        TelegramNetworkError(method=message(), message="ServerDisconnectedError"),
        TelegramServerError(method=message(), message="Bad Gateway"),
    )
    telegram.clock = clock
    with pytest.raises(TelegramServerError):
        await policy(clock, max_attempts=3)(telegram, None, message())
    times = [t for _, t in telegram.calls]
    assert len(times) == 3
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert 0.25 <= first_gap <= 0.5 and 0.5 <= second_gap <= 1.0


@pytest.mark.parametrize(
    "error",
    [
        TelegramBadRequest(method=message(), message="Bad Request: chat not found"),
        TelegramEntityTooLarge(method=SendPhoto(chat_id=1, photo="x"), message="Request Entity Too Large"),
    ],
)
async def test_errors_a_retry_cannot_fix_are_raised_at_once(error: Exception):
    telegram = ScriptedTelegram(error)
    with pytest.raises(type(error)):
        await policy(FakeClock())(telegram, None, message())
    assert len(telegram.calls) == 1


async def test_answering_a_button_takes_no_message_token():
    clock = FakeClock()
    middleware = policy(clock, TelegramLimits(chat_rate=1.0, chat_burst=1, global_rate=1.0))
    telegram = ScriptedTelegram()
    telegram.clock = clock
    await middleware(telegram, None, message(1))
    await middleware(telegram, None, AnswerCallbackQuery(callback_query_id="q"))
    assert clock.now == 1000.0  # not throttled behind the message


async def test_a_waiting_chat_does_not_delay_another_chat_in_real_time():
    limiter = OutboundLimiter(TelegramLimits(chat_rate=1.0, chat_burst=1))
    middleware = TelegramRequestPolicy(limiter, RetryPolicy())
    telegram = ScriptedTelegram()
    await middleware(telegram, None, message(1))
    loop = asyncio.get_running_loop()

    started = loop.time()
    slow = asyncio.create_task(middleware(telegram, None, message(1)))  # waits ~1 s for chat 1's next token
    await middleware(telegram, None, message(2))
    assert loop.time() - started < 0.2
    await slow
    assert loop.time() - started >= 0.9
