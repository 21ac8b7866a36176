"""The consumption engine: partitions pulled with ADR-42 pins, per-chat lanes, heartbeats, balance, graceful drain.

Start-up waits for the gateway's UPDATES stream, reads the partition count from its transform and its duplicate
window (which spares fresh updates the handled check: idempotency.first_copy), provisions the dead-letter stream,
the `handled_updates` bucket and one durable consumer per partition, then pulls every partition and joins the
`dispatcher_members` registry, which spreads the partitions over the replicas (balancer.py). Shutdown stops pulling
and balancing, unpins what it owns (a standby takes over at once), leaves the registry, gives back messages not yet
started, waits up to `drain_timeout` for running handlers, and gives back whatever is still unfinished.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from imagebot_common.nats import topology
from imagebot_dispatcher.consumer import metrics, provisioning
from imagebot_dispatcher.consumer.balancer import PartitionBalancer
from imagebot_dispatcher.consumer.dead_letters import publish_dead_letter
from imagebot_dispatcher.consumer.envelope import Envelope
from imagebot_dispatcher.consumer.held import HeldMessages
from imagebot_dispatcher.consumer.idempotency import HandledRegistry
from imagebot_dispatcher.consumer.membership import MemberRegistry, member_key
from imagebot_dispatcher.consumer.options import EngineOptions
from imagebot_dispatcher.consumer.ordering import ChatHeadGuard
from imagebot_dispatcher.consumer.partitions import consumer_name, partition_count
from imagebot_dispatcher.consumer.port import ConversationPort
from imagebot_dispatcher.consumer.processing import EngineStats, MessageProcessor
from imagebot_dispatcher.consumer.pull import PartitionPuller
from imagebot_dispatcher.consumer.sequencer import ChatSequencer

log = logging.getLogger("imagebot.dispatcher.consumer")


class ConsumptionEngine:
    def __init__(self, nc: Client, js: JetStreamContext, conversation: ConversationPort, options: EngineOptions):
        self._nc, self._js, self._conversation, self.options = nc, js, conversation, options
        self.stats = EngineStats()
        self._guard = ChatHeadGuard(js, options.stream)
        self._held = HeldMessages(confirm_ack=self._ack_needs_confirming)
        self._sequencer: ChatSequencer | None = None
        self._pullers: list[PartitionPuller] = []
        self._balancer: PartitionBalancer | None = None
        self._tasks: list[asyncio.Task[None]] = []  # pulls first, then the heartbeats and the balancer
        self._setup: asyncio.Task[None] | None = None
        self._stopping = False
        self.partitions = 0

    async def start(self) -> None:
        """Returns at once; provisioning runs in the background (the stream may not exist yet)."""
        self._setup = asyncio.create_task(self._provision_and_run(), name="dispatcher-engine-setup")

    async def wait_running(self, timeout: float | None = 30.0) -> None:
        assert self._setup is not None, "start() first"
        await asyncio.wait_for(asyncio.shield(self._setup), timeout)

    async def _provision_and_run(self) -> None:
        info = await provisioning.wait_for_stream(self._js, self.options)
        self.partitions = partition_count(info.config)
        while True:
            try:
                await topology.ensure_stream(self._js, topology.dead_letter_stream(self.options.replicas))
                await topology.ensure_key_value(self._js, topology.handled_updates_bucket(self.options.replicas))
                await provisioning.ensure_partition_consumers(self._nc, self.partitions, self.options)
                break
            except Exception as exc:
                log.warning("provisioning failed (%s); retrying", exc)
                await asyncio.sleep(1.0)
        processor = MessageProcessor(
            self._conversation, HandledRegistry(self._nc), self._js, self._held, self.options, self.stats,
            duplicate_window=info.config.duplicate_window or 0.0,
        )  # fmt: skip
        self._sequencer = ChatSequencer(
            self._guard, self._held, processor.process, head_wait_limit=self.options.head_wait_limit
        )
        for partition in range(self.partitions):
            puller = self._puller(partition)
            self._pullers.append(puller)
            self._tasks.append(asyncio.create_task(puller.run(), name=f"pull-{puller.consumer}"))
        self._tasks.append(
            asyncio.create_task(
                self._held.heartbeat_forever(self.options.heartbeat_interval), name="dispatcher-heartbeats"
            )
        )
        registry = MemberRegistry(
            self._js, member_key(self.options.member_id), ttl=self.options.member_ttl, replicas=self.options.replicas
        )
        self._balancer = PartitionBalancer(registry, self._pullers, self._unpin, self.options)
        self._tasks.append(asyncio.create_task(self._balancer.run(), name="dispatcher-balancer"))

    def _puller(self, partition: int) -> PartitionPuller:
        name = consumer_name(partition, self.partitions)

        async def deliver(msg: Msg) -> None:
            await self._on_message(msg, name)

        async def reprovision() -> None:
            await provisioning.ensure_partition_consumer(self._nc, partition, self.partitions, self.options)

        return PartitionPuller(
            self._nc, self.options, partition, name,
            capacity=lambda: self.options.max_ack_pending - self._held.count(partition),
            deliver=deliver, on_pin_change=self._on_pin_change, reprovision=reprovision,
        )  # fmt: skip

    async def _on_message(self, msg: Msg, consumer: str) -> None:
        assert self._sequencer is not None
        if self._stopping:  # a late delivery of the last pull: back to the stream for the next owner
            await msg.nak()
            return
        try:
            envelope, new = self._held.admit(msg, consumer)
        except ValueError as exc:  # e.g. `tg.in.<typo>.<chat>` transformed into the partition space
            await self._reject_unroutable(msg, str(exc))
            return
        if envelope.deliveries > 1:
            self.stats.redeliveries += 1
            metrics.REDELIVERIES.inc()
        self._guard.delivered(envelope)
        if new:
            self._sequencer.submit(envelope)
        else:
            self._sequencer.poke(envelope.chat)

    def _ack_needs_confirming(self, envelope: Envelope) -> bool:
        """Until a partition is clean, its chats' next messages are head-checked against what is still stored."""
        return not self._guard.is_clean(envelope.partition)

    async def _reject_unroutable(self, msg: Msg, error: str) -> None:
        log.error("dead-lettering unroutable %s: %s", msg.subject, error)
        await publish_dead_letter(self._js, msg, "unroutable", error)
        await msg.term()
        self.stats.dead_lettered += 1
        metrics.DEAD_LETTERED.labels("unknown", "unroutable").inc()

    async def _unpin(self, puller: PartitionPuller) -> None:
        await provisioning.unpin(self._nc, self.options.stream, puller.consumer)

    def _on_pin_change(self, partition: int, acquired: bool) -> None:
        self._guard.reset(partition)
        metrics.PARTITIONS_OWNED.set(len(self.owned_partitions()))

    def owned_partitions(self) -> list[int]:
        return [p.partition for p in self._pullers if p.owned]

    # ---- probes -------------------------------------------------------------------------------------------------
    def is_alive(self) -> bool:
        """False once the setup or any pull/heartbeat task has died: consumption would silently stop."""
        if self._setup is None:
            return True
        if self._setup.done() and (self._setup.cancelled() or self._setup.exception() is not None):
            return self._stopping
        return self._stopping or all(not task.done() for task in self._tasks)

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._stopping

    def is_ready(self) -> bool:
        return self.running and self.is_alive() and self._nc.is_connected

    def details(self) -> dict[str, Any]:
        owned = self.owned_partitions()
        lag = {str(p.partition): p.pending for p in self._pullers if p.owned and p.pending is not None}
        return {
            "state": "stopping" if self._stopping else ("running" if self._tasks else "waiting for stream"),
            "partitions": self.partitions,
            "partitions_owned": owned,
            "workers": self.options.workers,
            "in_flight": self.stats.in_flight,
            "held": len(self._held),
            "active_chats": self._sequencer.active_chats if self._sequencer else 0,
            "handled": self.stats.handled,
            "duplicates": self.stats.duplicates,
            "dead_lettered": self.stats.dead_lettered,
            "handler_failures": self.stats.handler_failures,
            "redeliveries": self.stats.redeliveries,
            "consumer_lag": sum(v for v in lag.values() if v is not None),
            "consumer_lag_by_partition": lag,
            **(self._balancer.details() if self._balancer else {}),
        }

    # ---- shutdown -----------------------------------------------------------------------------------------------
    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self._setup is not None and not self._setup.done():
            self._setup.cancel()
        pull_tasks, balancing = self._tasks[: len(self._pullers)], self._tasks[len(self._pullers) + 1 :]
        for task in balancing:  # first, so no round hands over, resumes or re-registers while shutting down
            task.cancel()
        for puller in self._pullers:
            puller.stop()
        owned = [p for p in self._pullers if p.owned]
        results = await asyncio.gather(
            *(provisioning.unpin(self._nc, self.options.stream, p.consumer) for p in owned), return_exceptions=True
        )
        for puller, result in zip(owned, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("unpin of %s failed: %s", puller.consumer, result)
        if self._balancer is not None:
            await self._balancer.leave()
        if self._sequencer is not None:
            released = await self._sequencer.release_queued()
            log.info("stopping: %d queued messages released, %d handlers running", released, self.stats.in_flight)
            if not await self._sequencer.wait_idle(self.options.drain_timeout):
                log.warning("drain timeout (%.0fs): cancelling unfinished handlers", self.options.drain_timeout)
                await self._sequencer.cancel()
        await self._held.release_all()
        if pull_tasks:  # they end within a pull's lifetime (lingering to give back late deliveries)
            await asyncio.wait(pull_tasks, timeout=self.options.pull_expires + 3.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        metrics.PARTITIONS_OWNED.set(0)
