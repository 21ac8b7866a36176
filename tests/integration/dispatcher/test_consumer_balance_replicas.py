"""Dispatcher replicas as real processes (`run_dispatcher` with the scripted conversation) share the partitions
under steady load: a second replica gets half of them, a SIGKILLed one's half moves to the survivor within
seconds with nothing lost, a newly started one gets half again, and no chat ever runs out of order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from imagebot_dispatcher.consumer.partitions import partition_of
from tests.integration.dispatcher.consumer_support import TOKEN, create_updates_stream, publish_update
from tests.support.conversation_double import order_violations
from tests.support.dispatcher_replica import RECORDS_STREAM, RECORDS_SUBJECTS
from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT, ServiceProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 16
PIN_TIMEOUT = 2.0
REBALANCE_DELAY = 1.0


class Replica(ServiceProcess):
    def __init__(self, name: str, nats_url: str):
        self.port = free_port()
        super().__init__(
            "tests.support.dispatcher_replica",
            {
                "PYTHONPATH": str(REPO_ROOT),
                "NATS_URL": nats_url,
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "HEALTH_HOST": "127.0.0.1",
                "HEALTH_PORT": str(self.port),
                "INSTANCE_ID": f"replica-{name}",
                "CONSUMER_ACK_WAIT": "3",
                "CONSUMER_PIN_TIMEOUT": str(PIN_TIMEOUT),
                "CONSUMER_MEMBER_TTL": "1.5",
                "CONSUMER_REBALANCE_DELAY": str(REBALANCE_DELAY),
                "DRAIN_TIMEOUT": "5",
                "TEST_REPLICA": name,
            },
            name=f"dispatcher-{name}",
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def ready(self) -> Replica:
        """Start and wait for /readyz without blocking the event loop (the load keeps running meanwhile)."""
        self.start()
        await asyncio.to_thread(self.wait_http_ok, f"{self.url}/readyz", 30)
        return self

    async def health(self) -> dict:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{self.url}/health")).json()

    async def owned(self) -> set[int]:
        return set((await self.health())["partitions_owned"])

    async def owns_every_partition(self) -> bool:
        return await self.owned() == set(range(PARTITIONS))


def chats_on_every_partition(per_partition: int, start: int = 40_000) -> list[int]:
    chats: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    candidate = start
    while any(len(found) < per_partition for found in chats.values()):
        found = chats[partition_of(str(candidate), PARTITIONS)]
        if len(found) < per_partition:
            found.append(candidate)
        candidate += 1
    return sorted(chat for found in chats.values() for chat in found)


class SteadyTraffic:
    """Every chat gets its next update each `period`, in order, each handler sleeping a random 0-60 ms."""

    def __init__(self, js: JetStreamContext, chats: list[int], period: float = 0.2) -> None:
        self._js, self._period, self._rng = js, period, random.Random(11)
        self.sent = dict.fromkeys(chats, 0)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.gather(*(self._next(chat) for chat in self.sent))
            await asyncio.sleep(self._period)

    async def _next(self, chat: int) -> None:
        number = self.sent[chat] + 1
        await publish_update(self._js, chat, number, f"sleep:{self._rng.randint(0, 60)}")
        self.sent[chat] = number


class HandledRecords:
    """`test.handled.<chat>` as the replicas published them (one timeline: the records stream's order)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    async def on_record(self, msg: Msg) -> None:
        self.rows.append(json.loads(msg.data))

    def by_chat(self) -> dict[int, list[int]]:
        chats: dict[int, list[int]] = {}
        for row in self.rows:
            chats.setdefault(row["chat"], []).append(row["message_id"])
        return chats

    def replicas(self) -> set[str]:
        return {row["replica"] for row in self.rows}


@pytest.fixture
async def records(js: JetStreamContext) -> AsyncIterator[HandledRecords]:
    await create_updates_stream(js, partitions=PARTITIONS)
    await js.add_stream(StreamConfig(name=RECORDS_STREAM, subjects=[RECORDS_SUBJECTS]))
    found = HandledRecords()
    subscription = await js.subscribe("test.handled.>", cb=found.on_record, ordered_consumer=True)
    yield found
    await subscription.unsubscribe()


async def registry_view(replica: Replica, wanted: dict[str, int]) -> dict[str, list[int]] | None:
    """The members and what each owns as `replica` last read them from dispatcher_members, once they match."""
    members = (await replica.health())["members"]
    return members if {name: len(owned) for name, owned in members.items()} == wanted else None


async def balanced(*replicas: Replica) -> bool:
    owned = [await replica.owned() for replica in replicas]
    share = PARTITIONS / len(replicas)
    every_partition_once = sorted(p for mine in owned for p in mine) == list(range(PARTITIONS))
    return every_partition_once and all(abs(len(mine) - share) <= 1 for mine in owned)


async def test_replicas_share_the_partitions_a_killed_ones_move_within_seconds_and_nothing_is_lost_or_reordered(
    nats_url: str, js: JetStreamContext, records: HandledRecords
):
    traffic = SteadyTraffic(js, chats_on_every_partition(per_partition=2))
    a, b, c = Replica("a", nats_url), Replica("b", nats_url), Replica("c", nats_url)
    try:
        await a.ready()
        await wait_until(a.owns_every_partition, message="A owns every partition")

        await b.ready()
        joined_at = time.monotonic()
        await wait_until(lambda: balanced(a, b), timeout=15, interval=0.1, message="A and B share")
        shared_after = time.monotonic() - joined_at
        members = await wait_until(lambda: registry_view(b, {"replica-a": 8, "replica-b": 8}), message="registry")

        a.kill()
        killed_at = time.monotonic()
        await wait_until(b.owns_every_partition, timeout=15, interval=0.1, message="B owns all")
        failover_after = time.monotonic() - killed_at

        await c.ready()
        started_at = time.monotonic()
        await wait_until(lambda: balanced(b, c), timeout=15, interval=0.1, message="B and C share")
        reshared_after = time.monotonic() - started_at
        b_health, c_health = await b.health(), await c.health()
    finally:
        await traffic.stop()

    async def everything_handled() -> bool:
        handled = records.by_chat()
        return all(set(handled.get(chat, [])) >= set(range(1, n + 1)) for chat, n in traffic.sent.items())

    try:
        await wait_until(everything_handled, timeout=20, interval=0.2, message="every update handled")
    finally:
        for replica in (b, c):
            replica.__exit__()
    assert order_violations(records.by_chat(), allow_repeats=True) == {}
    assert records.replicas() == {"a", "b", "c"}, "every replica handled updates"
    assert sorted(p for owned in members.values() for p in owned) == list(range(PARTITIONS))
    assert {len(b_health["partitions_owned"]), len(c_health["partitions_owned"])} == {8}
    assert set(c_health["members"]) == {"replica-b", "replica-c"}, "A's key expired, C's was added"
    assert b_health["partitions_assigned"] == b_health["partitions_owned"]
    sent = sum(traffic.sent.values())
    print(
        f"\n{sent} updates over {len(traffic.sent)} chats: A+B shared 8/8 {shared_after:.1f}s after B was ready "
        f"(rebalance delay {REBALANCE_DELAY:g}s); after SIGKILL of A, B owned all 16 within {failover_after:.1f}s "
        f"(pin timeout {PIN_TIMEOUT:g}s); B+C shared 8/8 {reshared_after:.1f}s after C was ready; "
        f"{len(records.rows) - sent} repeats of updates A had in flight"
    )
    assert failover_after < PIN_TIMEOUT + 3.0
