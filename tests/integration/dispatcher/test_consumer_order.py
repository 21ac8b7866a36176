"""Per-chat order with many chats in flight, across partitions and across replicas handing partitions over."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from nats.js import JetStreamContext

from tests.integration.dispatcher.consumer_support import (
    Replicas,
    create_updates_stream,
    options,
    publish_chats,
    publish_update,
    replicas_fixture,  # noqa: F401 - the `replicas` fixture
    total_owned,
)
from tests.support.conversation_double import ScriptedConversation, order_violations
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_every_chat_runs_in_stream_order_while_many_chats_run_concurrently(
    js: JetStreamContext, replicas: Replicas
):
    await create_updates_stream(js, partitions=16)
    rng = random.Random(7)
    conversation = ScriptedConversation(delay=lambda: rng.uniform(0, 0.02))
    engine = await replicas.start(conversation)
    chats = [1000 + i for i in range(50)]

    started = time.monotonic()
    await publish_chats(js, chats, per_chat=20)
    await wait_until(lambda: conversation.handled_count == 1000, timeout=60, message="1000 updates handled")
    elapsed = time.monotonic() - started

    assert order_violations(conversation.handled) == {}
    assert all(conversation.handled[chat] == list(range(1, 21)) for chat in chats)
    assert conversation.max_in_flight >= 30, conversation.max_in_flight
    assert engine.stats.handled == 1000 and engine.stats.duplicates == 0
    print(f"\n50 chats x 20 updates: {1000 / elapsed:.0f} updates/s, max in flight {conversation.max_in_flight}")


async def test_handlers_in_flight_grow_with_active_chats_beyond_the_partition_count(
    js: JetStreamContext, replicas: Replicas
):
    """Every handler waits until all 200 have started: only an engine that runs them all at once finishes."""
    await create_updates_stream(js, partitions=4)
    chats = [5000 + i for i in range(200)]
    all_started = asyncio.Event()

    async def wait_for_all_chats(chat: int, message_id: int, update_id: int) -> None:
        if conversation.in_flight == len(chats):
            all_started.set()
        await all_started.wait()

    conversation = ScriptedConversation(on_started=wait_for_all_chats)
    await replicas.start(conversation, options(workers=500))

    await publish_chats(js, chats, per_chat=1)
    await wait_until(lambda: conversation.handled_count == 200, timeout=30, message="200 handlers in flight at once")

    assert conversation.max_in_flight == 200


async def test_the_global_worker_limit_bounds_handlers_in_flight(js: JetStreamContext, replicas: Replicas):
    await create_updates_stream(js, partitions=4)
    conversation = ScriptedConversation()
    await replicas.start(conversation, options(workers=5))

    await publish_chats(js, [7000 + i for i in range(30)], per_chat=1, text="sleep:50")
    await wait_until(lambda: conversation.handled_count == 30, timeout=30, message="30 updates handled")

    assert conversation.max_in_flight == 5


async def test_two_replicas_split_the_partitions_and_each_chat_runs_on_one_of_them(
    js: JetStreamContext, replicas: Replicas
):
    await create_updates_stream(js, partitions=16)
    first, second = ScriptedConversation(), ScriptedConversation()
    engine_a = await replicas.start(first)
    engine_b = await replicas.start(second)
    chats = [2000 + i for i in range(40)]

    await publish_chats(js, chats, per_chat=5, text="sleep:5")
    await wait_until(lambda: first.handled_count + second.handled_count == 200, timeout=30, message="all handled")

    assert total_owned(engine_a, engine_b) == list(range(16)), "each partition has exactly one owner"
    assert not set(first.handled) & set(second.handled), "no chat was handled by both replicas"
    assert order_violations(first.handled) == {} and order_violations(second.handled) == {}


async def test_a_graceful_handover_keeps_a_chat_in_order_while_its_oldest_update_is_still_running(
    js: JetStreamContext, replicas: Replicas
):
    """A stops while handling m1 of a chat with m2..m5 queued behind it: A gives m2..m5 back at once (they are
    redelivered to B) but m1 is still running on A; B must wait for m1's ack before starting m2."""
    await create_updates_stream(js, partitions=1)
    old, new = ScriptedConversation(), ScriptedConversation()
    engine_a = await replicas.start(old, options(drain_timeout=10))
    chat = 42
    await publish_update(js, chat, 1, "sleep:1500")
    await wait_until(lambda: old.in_flight == 1, message="m1 running on A (so A holds the pin)")
    engine_b = await replicas.start(new)
    for message_id in range(2, 6):
        await publish_update(js, chat, message_id)
    await wait_until(lambda: engine_a.details()["held"] == 5, message="m2..m5 queued on A")

    await replicas.stop(engine_a)  # returns after m1 finished and was acked
    await wait_until(lambda: len(new.handled[chat]) == 4, timeout=20, message="B handled m2..m5")

    assert old.handled[chat] == [1]
    assert new.handled[chat] == [2, 3, 4, 5]
    assert engine_b.owned_partitions() == [0]
