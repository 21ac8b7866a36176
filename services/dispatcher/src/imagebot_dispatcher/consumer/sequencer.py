"""Per-chat FIFO lanes inside one replica (like grammY's `sequentialize`).

Every chat with messages held here has one lane: a list sorted by stream sequence (redeliveries can arrive out of
order) and one task draining it, one message at a time; the lane disappears when it is empty, so memory follows
the number of active chats. Different chats run concurrently; the global in-flight limit lives in the processor.
Before a message runs, the ChatHeadGuard confirms nothing older of its chat is still stored elsewhere.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from imagebot_dispatcher.consumer import metrics
from imagebot_dispatcher.consumer.envelope import Envelope
from imagebot_dispatcher.consumer.held import HeldMessages
from imagebot_dispatcher.consumer.ordering import ChatHeadGuard, Verdict

log = logging.getLogger("imagebot.dispatcher.consumer")

HEAD_POLL_INTERVAL = 0.25  # seconds between head checks while a chat waits for an older message


@dataclass(eq=False)
class ChatLane:
    chat: str
    pending: list[Envelope] = field(default_factory=list)  # sorted by seq
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    current: Envelope | None = None
    waiting_since: float | None = None
    gave_back: bool = False  # an older message went back to the stream: check heads until it has run
    task: asyncio.Task[None] | None = None


class ChatSequencer:
    def __init__(
        self,
        guard: ChatHeadGuard,
        held: HeldMessages,
        process: Callable[[Envelope], Awaitable[None]],
        *,
        head_wait_limit: float,
    ) -> None:
        self._guard, self._held, self._process = guard, held, process
        self._head_wait_limit = head_wait_limit
        self._lanes: dict[str, ChatLane] = {}

    @property
    def active_chats(self) -> int:
        return len(self._lanes)

    def submit(self, envelope: Envelope) -> None:
        lane = self._lanes.get(envelope.chat)
        if lane is None:
            lane = self._lanes[envelope.chat] = ChatLane(envelope.chat)
            lane.task = asyncio.create_task(self._drain(lane), name=f"chat-lane-{envelope.chat}")
        bisect.insort(lane.pending, envelope, key=lambda e: e.seq)
        lane.wake.set()

    def poke(self, chat: str) -> None:
        """A held message of this chat was redelivered: look at the lane again."""
        lane = self._lanes.get(chat)
        if lane is not None:
            lane.wake.set()

    async def _drain(self, lane: ChatLane) -> None:
        try:
            while lane.pending:
                envelope = lane.pending[0]
                verdict = await self._guard.verdict(envelope, check_chat=lane.gave_back)
                if not lane.pending or lane.pending[0] is not envelope:
                    continue  # an older message arrived (or the lane was released) during the check
                if verdict is Verdict.WAIT and not self._waited_too_long(lane, envelope):
                    await self._sleep_until_woken(lane)
                    continue
                lane.pending.pop(0)
                lane.waiting_since = None
                if verdict is Verdict.GONE:
                    log.info("seq %d of chat %s was acknowledged elsewhere; dropping it", envelope.seq, lane.chat)
                    self._held.drop(envelope)
                    continue
                lane.gave_back = False
                lane.current = envelope
                try:
                    await self._process(envelope)
                except Exception:  # a bug: give it back and keep the chat behind it (head checks) rather than die
                    log.exception("processing seq %d of chat %s failed; giving it back", envelope.seq, lane.chat)
                    await self._held.release(envelope)
                    lane.gave_back = True
                finally:
                    lane.current = None
        finally:
            if self._lanes.get(lane.chat) is lane:
                del self._lanes[lane.chat]

    def _waited_too_long(self, lane: ChatLane, envelope: Envelope) -> bool:
        now = time.monotonic()
        if lane.waiting_since is None:
            lane.waiting_since = now
            metrics.HEAD_WAITS.inc()
            log.info("chat %s waits for an older message before seq %d", lane.chat, envelope.seq)
            return False
        if now - lane.waiting_since < self._head_wait_limit:
            return False
        metrics.ORDER_OVERRIDES.inc()
        log.error(
            "chat %s: an older message stayed unavailable for %.0fs; handling seq %d out of order",
            lane.chat,
            now - lane.waiting_since,
            envelope.seq,
        )
        return True

    @staticmethod
    async def _sleep_until_woken(lane: ChatLane) -> None:
        lane.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lane.wake.wait(), HEAD_POLL_INTERVAL)

    async def release_queued(self) -> int:
        """Shutdown: give back every message not yet started, so the next owner can take it at once."""
        released = 0
        for lane in list(self._lanes.values()):
            queued, lane.pending = lane.pending, []
            lane.wake.set()
            for envelope in queued:
                await self._held.release(envelope)
                released += 1
        return released

    async def wait_idle(self, timeout: float) -> bool:
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        if not tasks:
            return True
        _, still_running = await asyncio.wait(tasks, timeout=timeout)
        return not still_running

    async def cancel(self) -> None:
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
