"""Is this message its chat's head? The check that keeps a chat in order across partition takeovers.

Work-queue retention deletes a message when it is acked, so the oldest message still stored on
`tg.p.<P>.*.<chat>` is the chat's true head. After a replica takes a partition over, messages the previous owner
had received but not acked come back only after ack_wait, while newer ones of the same chat arrive at once; so a
message may run only when nothing older of its chat is still stored.

Asking the server for every message would cost a request each, so a partition is "clean" once nothing older
than the first fresh delivery since the pin was acquired (the boundary) is stored: fresh deliveries come in stream
order and all go to the pinned replica, so from then on arrival order is chat order. Until then, and for every
redelivery, the chat's head is looked up.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from imagebot_common.nats import subjects
from imagebot_dispatcher.consumer.envelope import Envelope

log = logging.getLogger("imagebot.dispatcher.consumer")

PARTITION_RECHECK_INTERVAL = 0.2  # seconds between "is the partition clean yet?" queries while it is not


class Verdict(enum.Enum):
    HANDLE = "handle"  # nothing older of this chat is stored
    WAIT = "wait"  # an older message of this chat is stored and not ours yet
    GONE = "gone"  # this message is no longer stored: someone else acked it


@dataclass
class _PartitionOrder:
    clean: bool = False
    boundary: int | None = None  # stream seq of the first fresh delivery since the pin was acquired
    checked_at: float = 0.0


class ChatHeadGuard:
    def __init__(self, js: JetStreamContext, stream: str) -> None:
        self._js, self._stream = js, stream
        self._partitions: dict[int, _PartitionOrder] = {}

    def reset(self, partition: int) -> None:
        """Pin acquired or lost: whatever was true of the partition's order is no longer known."""
        self._partitions[partition] = _PartitionOrder()

    def delivered(self, envelope: Envelope) -> None:
        state = self._partitions.setdefault(envelope.partition, _PartitionOrder())
        if envelope.deliveries == 1 and state.boundary is None:
            state.boundary = envelope.seq

    def is_clean(self, partition: int) -> bool:
        state = self._partitions.get(partition)
        return state is not None and state.clean

    async def verdict(self, envelope: Envelope, *, check_chat: bool = False) -> Verdict:
        """`check_chat` forces the lookup (the lane gave an older message back and must not overtake it)."""
        try:
            if not check_chat and envelope.deliveries == 1 and await self._partition_is_clean(envelope.partition):
                return Verdict.HANDLE
            head = await self._oldest_seq(envelope.where.chat_filter)
        except Exception as exc:  # the server is unreachable: ask again shortly, never guess
            log.debug("head check of chat %s failed: %s", envelope.chat, exc)
            return Verdict.WAIT
        if head is None or head > envelope.seq:
            return Verdict.GONE
        return Verdict.HANDLE if head == envelope.seq else Verdict.WAIT

    async def _partition_is_clean(self, partition: int) -> bool:
        state = self._partitions.setdefault(partition, _PartitionOrder())
        if state.clean:
            return True
        now = time.monotonic()
        if now - state.checked_at < PARTITION_RECHECK_INTERVAL:
            return False
        state.checked_at = now
        head = await self._oldest_seq(subjects.partition_filter(partition))
        # `state` may have been replaced by a pin change meanwhile; then this answer is about a past epoch.
        if head is None or (state.boundary is not None and head >= state.boundary):
            state.clean = True
        return state.clean

    async def _oldest_seq(self, subject_filter: str) -> int | None:
        try:
            stored = await self._js.get_msg(self._stream, seq=1, subject=subject_filter, next=True)
        except NotFoundError:
            return None
        return stored.seq
