"""Replicas share the partitions (engines in this process, one NATS connection each, one shared conversation so
the order every chat was handled in is one timeline): a joining replica gets its fair share under load, a
leaving one's share moves to the rest, and no chat runs out of order while partitions move."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import pytest
from nats.js import JetStreamContext

from imagebot_dispatcher.consumer.balance import target_assignment
from imagebot_dispatcher.consumer.engine import ConsumptionEngine
from imagebot_dispatcher.consumer.partitions import partition_of
from tests.integration.dispatcher.consumer_support import (
    Replicas,
    create_updates_stream,
    options,
    publish_update,
    replicas_fixture,  # noqa: F401 - the `replicas` fixture
    total_owned,
    update_id_of,
)
from tests.support.conversation_double import ScriptedConversation, order_violations
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 16
BALANCED = options(member_ttl=1.5, rebalance_delay=1.0)


def chats_on_every_partition(per_partition: int, start: int = 70_000) -> list[int]:
    chats: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    candidate = start
    while any(len(found) < per_partition for found in chats.values()):
        found = chats[partition_of(str(candidate), PARTITIONS)]
        if len(found) < per_partition:
            found.append(candidate)
        candidate += 1
    return sorted(chat for found in chats.values() for chat in found)


class SteadyTraffic:
    """Every chat gets its next update each `period` (in order, like Telegram), each handler sleeping a random
    0-40 ms, so every partition stays busy and partitions move while handlers run."""

    def __init__(self, js: JetStreamContext, chats: list[int], period: float = 0.1, seed: int = 5) -> None:
        self._js, self._period, self._rng = js, period, random.Random(seed)
        self.sent = dict.fromkeys(chats, 0)
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> SteadyTraffic:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def finish(self) -> None:
        self.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.gather(*(self._next(chat) for chat in self.sent))
            await asyncio.sleep(self._period)

    async def _next(self, chat: int) -> None:
        number = self.sent[chat] + 1
        await publish_update(self._js, chat, number, f"sleep:{self._rng.randint(0, 40)}")
        self.sent[chat] = number


def all_handled(conversation: ScriptedConversation, traffic: SteadyTraffic) -> bool:
    return all(set(conversation.handled[chat]) == set(range(1, n + 1)) for chat, n in traffic.sent.items())


def owned_counts(*engines: ConsumptionEngine) -> list[int]:
    return [len(engine.owned_partitions()) for engine in engines]


async def wait_balanced(*engines: ConsumptionEngine, timeout: float = 15.0) -> float:
    """Seconds until every engine owns its fair share (within one) and together they own every partition once."""
    started = time.monotonic()
    share = PARTITIONS / len(engines)

    def balanced() -> bool:
        counts = owned_counts(*engines)
        return total_owned(*engines) == list(range(PARTITIONS)) and all(abs(n - share) <= 1 for n in counts)

    try:
        await wait_until(balanced, timeout=timeout, message=f"balanced over {len(engines)} replicas")
    except AssertionError as exc:
        views = [(e.owned_partitions(), e.details()["partitions_assigned"]) for e in engines]
        raise AssertionError(f"{exc}; (owned, assigned) per replica: {views}") from None
    return time.monotonic() - started


async def test_a_joining_replica_takes_half_the_partitions_under_load_and_no_chat_runs_out_of_order(
    js: JetStreamContext, replicas: Replicas
):
    await create_updates_stream(js, partitions=PARTITIONS)
    conversation = ScriptedConversation()
    chats = chats_on_every_partition(per_partition=3)
    engine_a = await replicas.start(conversation, BALANCED)
    with SteadyTraffic(js, chats) as traffic:
        await wait_until(lambda: len(engine_a.owned_partitions()) == PARTITIONS, message="A owns every partition")
        engine_b = await replicas.start(conversation, BALANCED)
        took = await wait_balanced(engine_a, engine_b)
        handled_by_a, handled_by_b = engine_a.stats.handled, engine_b.stats.handled
        await wait_until(lambda: engine_b.stats.handled > handled_by_b + 50, message="B keeps handling")
        await traffic.finish()
    await wait_until(lambda: all_handled(conversation, traffic), timeout=20, message="every update handled")

    assert order_violations(conversation.handled) == {}
    assert conversation.handled_count == sum(traffic.sent.values()), "each update ran once"
    assert owned_counts(engine_a, engine_b) == [8, 8]
    assert handled_by_a > 0 and engine_b.stats.handled > 0
    assert engine_a.details()["partitions_assigned"] == sorted(engine_a.owned_partitions())
    print(f"\nB joined: 8/8 after {took:.1f}s (rebalance delay {BALANCED.rebalance_delay:g}s)")


async def test_three_replicas_converge_to_their_fair_share_and_a_leaving_ones_partitions_spread_over_the_rest(
    js: JetStreamContext, replicas: Replicas
):
    await create_updates_stream(js, partitions=PARTITIONS)
    conversation = ScriptedConversation()
    engine_a = await replicas.start(conversation, BALANCED)
    with SteadyTraffic(js, chats_on_every_partition(per_partition=2)) as traffic:
        engine_b = await replicas.start(conversation, BALANCED)
        engine_c = await replicas.start(conversation, BALANCED)
        three = await wait_balanced(engine_a, engine_b, engine_c)
        assert max(owned_counts(engine_a, engine_b, engine_c)) <= 6, "ceil(16 / 3)"

        left_at = time.monotonic()
        await replicas.stop(engine_b)
        await wait_balanced(engine_a, engine_c)
        two = time.monotonic() - left_at
        await traffic.finish()
    await wait_until(lambda: all_handled(conversation, traffic), timeout=20, message="every update handled")

    assert order_violations(conversation.handled) == {}
    assert conversation.handled_count == sum(traffic.sent.values()), "each update ran once"
    handovers = [engine.details()["handovers"] for engine in (engine_a, engine_b, engine_c)]
    print(
        f"\n3 replicas balanced {three:.1f}s after the last joined; 2 replicas {two:.1f}s after one left; "
        f"handovers {handovers}"
    )


async def test_an_update_still_running_on_the_old_owner_holds_its_chats_next_updates_on_the_new_one(
    js: JetStreamContext, replicas: Replicas
):
    """A hands a busy partition to B while A is in the middle of a chat's slow m1: B gets m2..m4 at once but must
    wait for A to finish and ack m1 (the chat's head check); nothing is drained or paused first."""
    await create_updates_stream(js, partitions=PARTITIONS)
    target = target_assignment(PARTITIONS, ["member-a", "member-b"])
    slow_chat = next(c for c in range(90_000, 99_999) if target[partition_of(str(c), PARTITIONS)] == "member-b")
    partition = partition_of(str(slow_chat), PARTITIONS)
    neighbours = [c for c in range(100_000, 110_000) if partition_of(str(c), PARTITIONS) == partition][:3]
    timeline: list[tuple[str, int]] = []  # (replica, message id) of the slow chat, in the order they finished

    def recorder(replica: str) -> ScriptedConversation:
        async def handled(chat: int, message_id: int, update_id: int) -> None:
            if chat == slow_chat:
                timeline.append((replica, message_id))

        return ScriptedConversation(on_handled=handled)

    old, new = recorder("a"), recorder("b")
    engine_a = await replicas.start(old, options(member_ttl=1.5, rebalance_delay=1.0, member_id="member-a"))
    with SteadyTraffic(js, neighbours, period=0.05):  # keeps the partition busy, so it is worth moving
        await wait_until(lambda: partition in engine_a.owned_partitions(), message="A owns the partition")
        await publish_update(js, slow_chat, 1, "sleep:4000")
        await wait_until(lambda: old.attempts[update_id_of(slow_chat, 1)] == 1, message="m1 running on A")
        engine_b = await replicas.start(new, options(member_ttl=1.5, rebalance_delay=1.0, member_id="member-b"))
        await wait_until(lambda: partition in engine_b.owned_partitions(), timeout=10, message="B owns it now")
        assert timeline == [], "moved while m1 was still running"
        for message_id in (2, 3, 4):
            await publish_update(js, slow_chat, message_id)
        await wait_until(lambda: len(timeline) == 4, timeout=10, message="m1..m4 handled")

    assert timeline == [("a", 1), ("b", 2), ("b", 3), ("b", 4)]
    assert partition not in engine_a.owned_partitions() and engine_a.details()["handovers"] >= 1


async def test_an_idle_partition_stays_with_its_owner_until_traffic_makes_moving_it_worthwhile(
    js: JetStreamContext, replicas: Replicas
):
    """Handing over an idle partition would leave it unpinned until its next message; it waits for traffic."""
    await create_updates_stream(js, partitions=PARTITIONS)
    conversation = ScriptedConversation()
    chats = chats_on_every_partition(per_partition=1)
    slow_to_settle = options(member_ttl=1.5, rebalance_delay=3.0)  # longer than a partition counts as busy
    engine_a = await replicas.start(conversation, slow_to_settle)
    for chat in chats:
        await publish_update(js, chat, 1)
    await wait_until(lambda: len(engine_a.owned_partitions()) == PARTITIONS, message="A owns every partition")
    engine_b = await replicas.start(conversation, slow_to_settle)
    await wait_until(lambda: engine_b.details()["partitions_assigned"], timeout=10, message="B is a settled member")
    await asyncio.sleep(1.0)  # several balance rounds with nothing to move: a deliberate quiet period

    assert owned_counts(engine_a, engine_b) == [PARTITIONS, 0]
    with SteadyTraffic(js, chats):
        await wait_balanced(engine_a, engine_b)
