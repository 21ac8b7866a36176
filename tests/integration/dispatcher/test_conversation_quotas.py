"""Cost protection: generations in flight and hourly/daily quotas per user, counted in NATS KV (real server)."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext

from imagebot_common.messages.v1 import IMAGE_RESULT_EVENT
from imagebot_common.nats import topology
from imagebot_dispatcher.conversation.quotas import HOUR, QuotaBook, QuotaLimits
from tests.integration.dispatcher import conversation_harness
from tests.integration.dispatcher.conversation_harness import (
    ChatDriver,
    MakeConversation,
    failure_for,
    png_bytes,
    provision_imagegen_side,
    published_jobs,
    store_picture,
    success_for,
)

pytestmark = pytest.mark.integration

telegram_emulator = conversation_harness.telegram_emulator
make_conversation = conversation_harness.make_conversation

BOT, USER = 42, 7


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def quota_book(js: JetStreamContext, clock: Clock, **limits: float) -> QuotaBook:
    kv = await topology.ensure_key_value(js, topology.quotas_bucket())
    return QuotaBook(kv, QuotaLimits(**limits), clock=clock)  # type: ignore[arg-type]


async def test_jobs_in_flight_are_capped_and_a_finished_one_frees_its_slot(js: JetStreamContext):
    book = await quota_book(js, Clock(), active=2, hourly=0, daily=0)

    assert (await book.reserve(BOT, USER, "j1")).allowed
    assert (await book.reserve(BOT, USER, "j2")).allowed
    refused = await book.reserve(BOT, USER, "j3")
    assert (refused.allowed, refused.reason, refused.active, refused.limit) == (False, "active", 2, 2)

    await book.release(BOT, USER, "j1")
    assert (await book.reserve(BOT, USER, "j3")).allowed


async def test_a_job_whose_result_never_came_stops_counting_after_its_ttl(js: JetStreamContext):
    clock = Clock()
    book = await quota_book(js, clock, active=1, active_ttl=600, hourly=0, daily=0)
    assert (await book.reserve(BOT, USER, "lost")).allowed
    assert not (await book.reserve(BOT, USER, "next")).allowed

    clock.now += 601
    assert (await book.reserve(BOT, USER, "next")).allowed


async def test_the_hourly_quota_says_when_the_oldest_job_leaves_the_window(js: JetStreamContext):
    clock = Clock()
    book = await quota_book(js, clock, active=0, hourly=2, daily=0)
    await book.reserve(BOT, USER, "a")
    clock.now += 600
    await book.reserve(BOT, USER, "b")
    clock.now += 600

    refused = await book.reserve(BOT, USER, "c")
    assert (refused.allowed, refused.reason, refused.limit) == (False, "hourly", 2)
    assert refused.retry_after == pytest.approx(HOUR - 1200)

    clock.now += HOUR - 1200 + 1
    assert (await book.reserve(BOT, USER, "c")).allowed


async def test_the_daily_quota_counts_a_rolling_day(js: JetStreamContext):
    clock = Clock()
    book = await quota_book(js, clock, active=0, hourly=0, daily=3)
    for job in ("a", "b", "c"):
        assert (await book.reserve(BOT, USER, job)).allowed
        clock.now += 2 * HOUR

    refused = await book.reserve(BOT, USER, "d")
    assert (refused.reason, refused.retry_after) == ("daily", pytest.approx(24 * HOUR - 6 * HOUR))


async def test_reserving_the_same_job_twice_counts_it_once(js: JetStreamContext):
    book = await quota_book(js, Clock(), active=1, hourly=1, daily=1)
    assert (await book.reserve(BOT, USER, "same")).allowed
    assert (await book.reserve(BOT, USER, "same")).allowed  # a redelivered button press
    assert not (await book.reserve(BOT, USER, "other")).allowed


async def test_a_refund_gives_the_quota_back(js: JetStreamContext):
    book = await quota_book(js, Clock(), active=0, hourly=1, daily=0)
    await book.reserve(BOT, USER, "failed-for-us")
    await book.release(BOT, USER, "failed-for-us", refund=True)
    assert (await book.reserve(BOT, USER, "next")).allowed


async def test_users_are_counted_separately(js: JetStreamContext):
    book = await quota_book(js, Clock(), active=1, hourly=0, daily=0)
    assert (await book.reserve(BOT, USER, "a")).allowed
    assert (await book.reserve(BOT, USER + 1, "b")).allowed


async def test_concurrent_reservations_never_exceed_the_limit(js: JetStreamContext):
    """Two replicas pressing at once: compare-and-set lets exactly `active` through."""
    book = await quota_book(js, Clock(), active=3, hourly=0, daily=0)
    decisions = await asyncio.gather(*(book.reserve(BOT, USER, f"j{i}") for i in range(6)))
    assert sum(d.allowed for d in decisions) == 3


async def test_an_exhausted_hourly_quota_is_explained_to_the_user(make_conversation: MakeConversation, js):
    await provision_imagegen_side(js)
    conversation, control = await make_conversation(hourly_jobs_per_user=1)
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    await chat.send("первая картинка")
    await chat.press("Квадрат 1:1")
    [job] = await published_jobs(js)
    image = await store_picture(js, "q.png", png_bytes())
    await conversation.handle_event(IMAGE_RESULT_EVENT, success_for(job, image).to_bytes(), headers={})

    await chat.press("🖼 Создать ещё")
    await chat.send("вторая картинка")
    await chat.press("Квадрат 1:1")

    text = (await chat.last_bot_message())["text"]
    assert text.startswith("⏰ Часовой лимит исчерпан (1 в час). Попробуйте снова через")
    assert "мин" in text
    assert len(await published_jobs(js)) == 1


async def test_a_second_generation_while_one_runs_is_refused(make_conversation: MakeConversation, js):
    await provision_imagegen_side(js)
    conversation, control = await make_conversation(active_jobs_per_user=1)
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    await chat.send("первая")
    await chat.press("Квадрат 1:1")
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    await chat.send("вторая")
    await chat.press("Квадрат 1:1")

    assert (await chat.last_bot_message())["text"].startswith("⏳ Уже идёт генерация (1 из 1)")
    [job] = await published_jobs(js)

    await conversation.handle_event(IMAGE_RESULT_EVENT, failure_for(job, "timeout").to_bytes(), headers={})
    await chat.press("Квадрат 1:1")  # the same keyboard works once the slot is free
    assert [j.prompt for j in await published_jobs(js)] == ["первая", "вторая"]
