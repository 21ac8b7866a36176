"""Dispatcher replicas as real processes (`run_dispatcher` with the scripted conversation): a SIGKILLed replica's
partitions move to the survivor with nothing lost and no chat reordered; SIGTERM drains and exits 0."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from imagebot_common.nats import subjects
from imagebot_dispatcher.consumer.partitions import partition_of
from tests.integration.dispatcher.consumer_support import TOKEN, create_updates_stream, publish_update
from tests.support.conversation_double import order_violations
from tests.support.dispatcher_replica import RECORDS_STREAM, RECORDS_SUBJECTS
from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT, ServiceProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 4
ACK_WAIT = 3.0


class Replica(ServiceProcess):
    def __init__(self, name: str, nats_url: str, **env: str):
        self.port = free_port()
        super().__init__(
            "tests.support.dispatcher_replica",
            {
                "PYTHONPATH": str(REPO_ROOT),
                "NATS_URL": nats_url,
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "HEALTH_HOST": "127.0.0.1",
                "HEALTH_PORT": str(self.port),
                "CONSUMER_ACK_WAIT": str(ACK_WAIT),
                "CONSUMER_PIN_TIMEOUT": "2",
                "HANDLER_RETRY_BACKOFF": "0.01",
                "DRAIN_TIMEOUT": "10",
                "TEST_REPLICA": name,
                **env,
            },
            name=f"dispatcher-{name}",
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        super().start()
        self.wait_http_ok(f"{self.url}/readyz")
        return self

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", timeout=2).json()


@pytest.fixture
async def records(js: JetStreamContext) -> JetStreamContext:
    await create_updates_stream(js, partitions=PARTITIONS)
    await js.add_stream(StreamConfig(name=RECORDS_STREAM, subjects=[RECORDS_SUBJECTS]))
    return js


async def read_records(js: JetStreamContext, kind: str) -> list[dict]:
    """Every `test.<kind>.*` record in the order the handlers published them."""
    last = (await js.stream_info(RECORDS_STREAM)).state.last_seq
    found = []
    for seq in range(1, last + 1):
        stored = await js.get_msg(RECORDS_STREAM, seq)
        if stored.subject.startswith(f"test.{kind}."):
            found.append(json.loads(stored.data))
    return found


def by_chat(rows: list[dict]) -> dict[int, list[int]]:
    chats: dict[int, list[int]] = {}
    for row in rows:
        chats.setdefault(row["chat"], []).append(row["message_id"])
    return chats


def one_chat_per_partition(start: int = 100) -> list[int]:
    chats: dict[int, int] = {}
    candidate = start
    while len(chats) < PARTITIONS:
        chats.setdefault(partition_of(str(candidate), PARTITIONS), candidate)
        candidate += 1
    return sorted(chats.values())


async def test_a_sigkilled_replica_loses_nothing_and_its_chats_stay_in_order_on_the_survivor(
    nats_url: str, records: JetStreamContext
):
    js = records
    slow_chat, load, fresh = 42, [300 + i for i in range(20)], one_chat_per_partition(start=9000)
    with Replica("a", nats_url) as a:
        for chat in one_chat_per_partition():  # A becomes the pinned owner of every partition
            await publish_update(js, chat, 1)
        await wait_until(lambda: a.health()["partitions_owned"] == list(range(PARTITIONS)), message="A owns all")
        with Replica("b", nats_url) as b:  # a standby on every partition
            await publish_update(js, slow_chat, 1, "sleep:3000")
            for message_id in (2, 3):  # queued on A behind m1
                await publish_update(js, slow_chat, message_id)
            for message_id in range(1, 6):
                await asyncio.gather(*(publish_update(js, chat, message_id, "sleep:20") for chat in load))

            async def slow_update_running_on_a() -> bool:
                started = await read_records(js, "started")
                return any(r["chat"] == slow_chat for r in started) and a.health()["held"] >= 3

            await wait_until(slow_update_running_on_a, message="A runs m1 and holds m2, m3")

            a.kill()
            killed_at = time.time()
            for chat in fresh:  # chats with nothing held by A: they show how fast the partitions moved
                await publish_update(js, chat, 1)
            for message_id in (4, 5, 6):
                await publish_update(js, slow_chat, message_id)
            for message_id in range(6, 11):
                await asyncio.gather(*(publish_update(js, chat, message_id, "sleep:20") for chat in load))

            async def everything_handled() -> bool:
                handled = by_chat(await read_records(js, "handled"))
                return (
                    set(handled.get(slow_chat, [])) == set(range(1, 7))
                    and all(set(handled.get(chat, [])) == set(range(1, 11)) for chat in load)
                    and all(handled.get(chat) == [1] for chat in fresh)
                )

            await wait_until(everything_handled, timeout=30, interval=0.3, message="every update handled")
            b_health = b.health()

    handled = await read_records(js, "handled")
    started_on_b = [r for r in await read_records(js, "started") if r["replica"] == "b"]
    assert order_violations(by_chat(handled), allow_repeats=True) == {}
    survivor_slow = [r["message_id"] for r in handled if r["chat"] == slow_chat and r["replica"] == "b"]
    assert survivor_slow[:1] == [1], "B ran the dead owner's m1 (redelivered) before m4..m6"
    assert b_health["partitions_owned"] == list(range(PARTITIONS))
    takeover = max(r["at"] for r in started_on_b if r["chat"] in fresh) - killed_at
    slow_resumed = min(r["at"] for r in started_on_b if r["chat"] == slow_chat) - killed_at
    print(
        f"\nfailover: all {PARTITIONS} partitions serve new chats on the survivor {takeover:.2f}s after SIGKILL; "
        f"chats with updates held by the dead one resumed after {slow_resumed:.2f}s (ack_wait {ACK_WAIT:g}s)"
    )
    assert takeover < 4.0, "within the pin timeout (2 s) and a pull"
    assert slow_resumed < ACK_WAIT + 5.0


async def test_sigterm_finishes_running_handlers_gives_back_queued_ones_and_exits_0(
    nats_url: str, records: JetStreamContext
):
    js = records
    chats = [500 + i for i in range(5)]
    with Replica("a", nats_url) as a:
        for chat in chats:
            await publish_update(js, chat, 1, "sleep:1500")
            await publish_update(js, chat, 2)
        await wait_until(lambda: read_records(js, "started"), message="handlers started")
        await wait_until(lambda: a.health()["in_flight"] == len(chats), message="all five running")

        started = time.monotonic()
        exit_code = await asyncio.to_thread(a.terminate, 20)  # SIGTERM, then the exit code
        took = time.monotonic() - started
        logs = a.logs()

    assert exit_code == 0, logs[-3000:]
    assert took < 10, f"shutdown took {took:.1f}s"
    handled = by_chat(await read_records(js, "handled"))
    assert {chat: handled.get(chat) for chat in chats} == {chat: [1] for chat in chats}, "running ones finished"
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == len(chats), "only the m2s remain"
    assert "5 queued messages released" in logs and TOKEN not in logs
    print(f"\nSIGTERM with 5 handlers running (1.5 s each): exit 0 after {took:.2f}s")

    with Replica("b", nats_url):  # the next replica takes the released updates

        async def all_done() -> bool:
            done = by_chat(await read_records(js, "handled"))
            return all(done.get(chat) == [1, 2] for chat in chats)

        await wait_until(all_done, timeout=15, message="the released updates handled by the next replica")
