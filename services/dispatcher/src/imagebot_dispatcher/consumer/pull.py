"""ADR-42 `pinned_client` pulls for one partition, through the raw JetStream API (nats-py has no fields for it).

Every replica pulls every partition in the priority group; the server delivers only to the pinned replica (the
first whose pull got a message, identified by the `Nats-Pin-Id` it then sends back as `id`), answers 423 to a stale
id, and moves the pin to a waiting standby when the pinned one stops pulling for `priority_timeout` (or its
connection closes). Pulls are streamed: messages are handed on as they arrive, and `batch` never exceeds the free
ack-pending room (nats.md gotcha 1), with at least 1 so an at-capacity owner keeps re-pulling and keeps its pin.

Handing a partition over (balancer.py): stop pulling, UNPIN, forget the pin. The server then pins the first
waiting standby pull when the next message comes; messages already delivered here stay here and run to
completion, and the new owner's head checks (ordering.py) keep each chat's newer messages behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg

from imagebot_common.nats.inbox import Inbox
from imagebot_dispatcher.consumer import metrics
from imagebot_dispatcher.consumer.options import PRIORITY_GROUP, EngineOptions

log = logging.getLogger("imagebot.dispatcher.consumer")

PIN_HEADER = "Nats-Pin-Id"
STATUS_HEADER = "Status"
STATUS_WAIT = 0.25  # how often a waiting pull looks at the stop flag
LOST_STATUS_GRACE = 1.0  # a pull whose 408 never came (reconnect, server restart) is abandoned after expires + this
STALL_PIN_TIMEOUTS = 5  # an owned partition with messages waiting but none delivered for this many pin timeouts


class PartitionPuller:
    def __init__(
        self,
        nc: Client,
        options: EngineOptions,
        partition: int,
        consumer: str,
        *,
        capacity: Callable[[], int],
        deliver: Callable[[Msg], Awaitable[None]],
        on_pin_change: Callable[[int, bool], None],
        reprovision: Callable[[], Awaitable[None]],
    ) -> None:
        self._nc, self._options = nc, options
        self.partition, self.consumer = partition, consumer
        self._capacity, self._deliver = capacity, deliver
        self._on_pin_change, self._reprovision = on_pin_change, reprovision
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{options.stream}.{consumer}"
        self._stop = asyncio.Event()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._released_pin: str | None = None  # handed over: a late delivery under it must not re-adopt it
        self.pin_id: str | None = None
        self.last_delivery = 0.0  # monotonic time of the newest delivery (the balancer moves busy partitions only)
        self.pending: int | None = None  # messages not yet delivered, as of the newest delivery (lag)
        self._linger_until, self._last_reply = 0.0, ""
        self._room = False  # the current pull asked for as many messages as the free ack-pending room allows
        self._stall_reported = False  # the stall warning was logged and no delivery came since
        self._repair: asyncio.Task[None] | None = None  # re-provisioning after a 404/503, off the pull loop
        self._unavailable_since: float | None = None  # the consumer answered 404/503 and nothing else since

    @property
    def owned(self) -> bool:
        return self.pin_id is not None

    def stop(self) -> None:
        self._stop.set()

    def pause(self) -> None:
        """No new pulls (the current one is still read to its end); held messages are unaffected."""
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    async def hand_over(self, unpin: Callable[[], Awaitable[None]]) -> bool:
        """Give the partition to whichever standby pulls next; False if it was not pinned here."""
        if self.pin_id is None:
            return False
        self.pause()
        released = self._released_pin = self.pin_id
        try:
            await unpin()
        except Exception as exc:  # nobody here pulls any more, so the pin moves after priority_timeout anyway
            log.warning("partition %d: unpin failed (%s); it moves after the pin timeout", self.partition, exc)
        if self.pin_id == released:
            log.info("partition %d (%s): handed over", self.partition, self.consumer)
            self._lose_pin()
        return True

    async def run(self) -> None:
        inbox = Inbox(self._nc)
        await inbox.open()
        try:
            await asyncio.sleep(random.uniform(0, 0.3))  # replicas starting together split the partitions
            pulls = 0
            while not self._stop.is_set():
                if not self._resumed.is_set():
                    await self._wait_resumed()
                    continue
                pulls += 1
                try:
                    await self._pull(inbox, inbox.reply_subject(pulls))
                except Exception as exc:  # incl. the built-in TimeoutError (nats.md gotcha 12): never die
                    log.warning("partition %d: pull failed: %s", self.partition, exc)
                    await self._pause(0.5)
            await self._linger(inbox)
        finally:
            if self._repair is not None:
                self._repair.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._repair
            await inbox.close()
            if self.pin_id is not None:
                self._lose_pin()

    async def _pull(self, inbox: Inbox, reply: str) -> None:
        room = self._capacity()
        batch = max(1, min(self._options.max_ack_pending, room))
        self._room = room > 0
        request: dict[str, object] = {
            "batch": batch,
            "expires": int(self._options.pull_expires * 1e9),
            "group": PRIORITY_GROUP,
        }
        if self.pin_id is not None:
            request["id"] = self.pin_id
        await self._nc.publish(self._next_subject, json.dumps(request).encode(), reply=reply)
        deadline = time.monotonic() + self._options.pull_expires + LOST_STATUS_GRACE
        self._linger_until, self._last_reply = deadline, reply
        received = 0
        while received < batch and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                msg = await inbox.next_message(timeout=min(remaining, STATUS_WAIT))
            except TimeoutError:
                continue
            status = (msg.headers or {}).get(STATUS_HEADER)
            if status is None:
                received += 1
                await self._on_message(msg)
            elif msg.subject == reply and await self._pull_ended(status, msg):
                return

    async def _on_message(self, msg: Msg) -> None:
        pin = (msg.headers or {}).get(PIN_HEADER)
        self._note_answering()
        now = time.monotonic()
        if self._stall_reported:
            quiet = now - self.last_delivery
            log.info("partition %d (%s): delivering again after %.0fs", self.partition, self.consumer, quiet)
            self._stall_reported = False
        self.last_delivery = now
        if pin and pin != self.pin_id and pin != self._released_pin:
            self.pin_id = pin
            log.info("partition %d (%s): pinned here", self.partition, self.consumer)
            self._on_pin_change(self.partition, True)
        self._note_pending(msg.metadata.num_pending)
        await self._deliver(msg)

    async def _pull_ended(self, status: str, msg: Msg) -> bool:
        headers = msg.headers or {}
        if status == "100":  # idle heartbeat
            return False
        if status == "408":  # expired: the normal end of a pull
            # Its Nats-Pending-Messages is what is left of this pull's batch (10 for a batch of 10 on an empty
            # consumer, measured), not the consumer's backlog: the lag stays as the newest delivery reported it.
            self._note_answering()
            self._check_stalled()
            return True
        if status == "423":  # our pin id is stale: another replica owns the partition now
            self._note_answering()
            if self.pin_id is not None:
                log.info("partition %d (%s): pin moved to another replica", self.partition, self.consumer)
                self._lose_pin()
            return True
        description = next((str(v) for k, v in headers.items() if getattr(k, "value", k) == "Description"), "")
        description = " ".join(description.split())  # a 503's is "\nNats-Subject: <the pull's subject>"
        if status in ("404", "503") or "deleted" in description.lower():
            if self._unavailable_since is None:  # once per outage: it answers 503 every second of an election
                self._unavailable_since = time.monotonic()
                log.warning(
                    "partition %d (%s): pull ended with %s %s; re-creating the consumer, pulling on until it answers",
                    self.partition, self.consumer, status, description,
                )  # fmt: skip
            self._start_repair()
        else:
            log.warning("partition %d: pull ended with %s %s", self.partition, status, description)
        await self._pause(1.0)
        return True

    def _note_answering(self) -> None:
        if self._unavailable_since is not None:
            took = time.monotonic() - self._unavailable_since
            log.info("partition %d (%s): consumer answers again after %.1fs", self.partition, self.consumer, took)
            self._unavailable_since = None

    def _start_repair(self) -> None:
        """Re-create the consumer in the background, one attempt at a time, and keep pulling meanwhile.

        503 (no responders) means the consumer is gone *or* has no leader yet: after a cluster node died, the
        consumers it led answer 503 until Raft elects a new leader (4-9 s, sometimes a second round), and a
        CONSUMER.CREATE sent meanwhile gets no reply before its 5 s timeout. Awaited here, that timeout decided
        when the partition pulled again, 5.5 s or 11 s after its first 503 (measured in the cluster chaos run);
        now the first pull after the election gets through, within the 1 s pause between pulls."""
        if self._repair is None or self._repair.done():
            self._repair = asyncio.create_task(self._repair_consumer(), name=f"reprovision-{self.consumer}")

    async def _repair_consumer(self) -> None:
        try:
            await self._reprovision()
        except Exception as exc:  # the pulls go on; the next 404/503 tries again
            level = logging.WARNING if self._unavailable_since is not None else logging.DEBUG  # moot once it answers
            log.log(level, "partition %d: re-creating %s failed: %s", self.partition, self.consumer, exc or repr(exc))

    def _check_stalled(self) -> None:
        """An owned pull with free room expired empty although the newest delivery said messages were waiting.

        Normal for a moment (another replica took the pin and our 423 is on its way); for several pin timeouts
        it is a stalled partition, e.g. a consumer paused with `nats consumer pause`, which only its operator
        can resolve: say so once, and again when messages flow (`delivering again`)."""
        if not (self.owned and self._room and self.pending) or self._stall_reported:
            return
        quiet = time.monotonic() - self.last_delivery
        if quiet >= STALL_PIN_TIMEOUTS * self._options.pin_timeout:
            self._stall_reported = True
            log.warning(
                "partition %d (%s): nothing delivered for %.0fs although %d messages were waiting at the last "
                "delivery and pulls have room; is the consumer paused? (`nats consumer info %s %s`)",
                self.partition, self.consumer, quiet, self.pending, self._options.stream, self.consumer,
            )  # fmt: skip

    def _note_pending(self, pending: int) -> None:
        self.pending = pending
        metrics.CONSUMER_PENDING.labels(str(self.partition)).set(pending)

    def _lose_pin(self) -> None:
        self.pin_id = None
        self.pending = None
        self._stall_reported = False
        with contextlib.suppress(KeyError):  # the lag of a partition owned elsewhere is not ours to report
            metrics.CONSUMER_PENDING.remove(str(self.partition))
        self._on_pin_change(self.partition, False)

    async def _wait_resumed(self) -> None:
        with contextlib.suppress(TimeoutError):  # wakes up for stop() too
            await asyncio.wait_for(self._resumed.wait(), STATUS_WAIT)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _linger(self, inbox: Inbox) -> None:
        """After stop, the last pull may still deliver until it expires: hand those on (the engine releases them)."""
        while (remaining := self._linger_until - time.monotonic()) > 0:
            try:
                msg = await inbox.next_message(timeout=remaining)
            except TimeoutError:
                return
            if (msg.headers or {}).get(STATUS_HEADER) is None:
                await self._deliver(msg)
            elif msg.subject == self._last_reply:
                return  # the last pull ended (expired, or 423 after the unpin): nothing more can come
