"""One partition's puller against a real nats-server: it keeps pulling while its consumer is being re-created,
reports the consumer's backlog (not a pull's unfilled batch) as lag, and says so when it owns a partition whose
messages wait but never come."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from imagebot_dispatcher.consumer import provisioning
from imagebot_dispatcher.consumer.options import EngineOptions
from imagebot_dispatcher.consumer.partitions import consumer_name, partition_of
from imagebot_dispatcher.consumer.pull import STALL_PIN_TIMEOUTS, PartitionPuller
from tests.integration.dispatcher.consumer_support import create_updates_stream, options, publish_update
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 4
CHAT = next(chat for chat in range(1000, 2000) if partition_of(str(chat), PARTITIONS) == 0)
CONSUMER = consumer_name(0, PARTITIONS)
OPTIONS = options(pin_timeout=1.0)  # pulls expire after 1/3 s; the stall warning comes after 5 s


class Partition:
    """A running puller of partition 0 that acks what it gets and records the chat's message ids."""

    def __init__(
        self,
        nc: Client,
        reprovision: Callable[[], Awaitable[None]],
        *,
        capacity: int = 8,
        on_delivery: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.delivered: list[int] = []
        self._on_delivery = on_delivery
        self.puller = PartitionPuller(
            nc, OPTIONS, 0, CONSUMER,
            capacity=lambda: capacity, deliver=self._deliver, on_pin_change=lambda *_: None, reprovision=reprovision,
        )  # fmt: skip
        self._task: asyncio.Task[None] | None = None

    async def _deliver(self, msg: Msg) -> None:
        self.delivered.append(json.loads(msg.data)["message"]["message_id"])
        if self._on_delivery is not None:
            await self._on_delivery(len(self.delivered))
        await msg.ack()

    def start(self) -> Partition:
        self._task = asyncio.create_task(self.puller.run())
        return self

    async def stop(self) -> None:
        self.puller.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, OPTIONS.pull_expires + 5)


@pytest.fixture
async def consumer(nc: Client, js: JetStreamContext) -> EngineOptions:
    await create_updates_stream(js, partitions=PARTITIONS)
    await provisioning.ensure_partition_consumer(nc, 0, PARTITIONS, OPTIONS)
    return OPTIONS


@pytest.fixture
def consumer_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger="imagebot.dispatcher.consumer"):
        yield caplog


async def reprovision_now(nc: Client) -> None:
    await provisioning.ensure_partition_consumer(nc, 0, PARTITIONS, OPTIONS)


async def test_pulls_go_on_while_re_creating_the_consumer_gets_no_answer(
    nc: Client, js: JetStreamContext, consumer: EngineOptions, consumer_logs: pytest.LogCaptureFixture
):
    """Stands in for a cluster node's death: the consumers it led answer pulls with 503 until Raft elects a new
    leader (4-9 s), and a CONSUMER.CREATE sent meanwhile gets no reply before its 5 s timeout. Here the consumer
    is deleted (pulls end with 409, then 503), re-creating it never answers, and the test brings the consumer
    back itself, as the election would: the next message is delivered within a pull or two, not when the
    re-creating request gives up. The outage is logged once (a WARNING), not once per pull, and its end too."""
    attempts, unanswered = 0, asyncio.Event()

    async def reprovision_without_answer() -> None:
        nonlocal attempts
        attempts += 1
        await unanswered.wait()

    partition = Partition(nc, reprovision_without_answer).start()
    try:
        await publish_update(js, CHAT, 1)
        await wait_until(lambda: partition.delivered == [1] and partition.puller.owned, message="the first update")

        await js.delete_consumer(subjects.UPDATES_STREAM, CONSUMER)
        await wait_until(lambda: attempts == 1, message="re-creating the consumer")
        await asyncio.sleep(2.5)  # two more pulls meet the missing consumer
        await reprovision_now(nc)  # the consumer answers again (the new leader)
        await publish_update(js, CHAT, 2)

        await wait_until(lambda: 2 in partition.delivered, timeout=5, message="the update sent after the takeover")
        assert attempts == 1, "one re-creating request at a time, still waiting for its answer"
        outage = [r for r in consumer_logs.records if "re-creating the consumer" in r.getMessage()]
        assert [r.levelno for r in outage] == [logging.WARNING]
        assert f"partition 0 ({CONSUMER}): consumer answers again after" in consumer_logs.text
    finally:
        unanswered.set()
        await partition.stop()


async def test_an_idle_owned_partition_reports_no_lag(nc: Client, js: JetStreamContext, consumer: EngineOptions):
    """A pull that expires (408) carries Nats-Pending-Messages = what is left of its own batch (8 of 8 here),
    not the consumer's backlog, which the newest delivery reported: none."""
    partition = Partition(nc, lambda: reprovision_now(nc), capacity=8).start()
    try:
        await publish_update(js, CHAT, 1)
        await wait_until(lambda: partition.delivered == [1] and partition.puller.owned, message="the update")
        await asyncio.sleep(4 * OPTIONS.pull_expires)  # several empty pulls expire

        assert partition.puller.owned and partition.puller.pending == 0
    finally:
        await partition.stop()


async def test_an_owned_partition_whose_waiting_messages_never_come_is_reported(
    nc: Client, js: JetStreamContext, consumer: EngineOptions, consumer_logs: pytest.LogCaptureFixture
):
    """E.g. an operator paused the consumer (`nats consumer pause`): the pinned replica's pulls expire empty
    although messages wait. After STALL_PIN_TIMEOUTS pin timeouts one WARNING names the partition and what
    waits; once the consumer is resumed, the messages come and an INFO line says so."""

    async def pause_after_the_first(count: int) -> None:
        if count == 1:
            await js.pause_consumer(subjects.UPDATES_STREAM, CONSUMER, "2999-01-01T00:00:00Z")

    for message_id in (1, 2, 3):
        await publish_update(js, CHAT, message_id)
    partition = Partition(nc, lambda: reprovision_now(nc), capacity=1, on_delivery=pause_after_the_first).start()
    try:
        stalled = f"partition 0 ({CONSUMER}): nothing delivered for"
        await wait_until(
            lambda: stalled in consumer_logs.text,
            timeout=STALL_PIN_TIMEOUTS * OPTIONS.pin_timeout + 5,
            message="the stall warning",
        )
        assert partition.delivered == [1]
        warning = next(r for r in consumer_logs.records if stalled in r.getMessage())
        assert warning.levelno == logging.WARNING and "2 messages were waiting" in warning.getMessage()

        await js.resume_consumer(subjects.UPDATES_STREAM, CONSUMER)
        await wait_until(lambda: partition.delivered == [1, 2, 3], message="the waiting updates")
        assert f"partition 0 ({CONSUMER}): delivering again after" in consumer_logs.text
        assert consumer_logs.text.count(stalled) == 1
    finally:
        await partition.stop()
