"""Every message this replica holds, keyed by stream sequence: capacity per partition, heartbeats and settling.

A held message is renewed with `+WPI` every quarter of ack_wait whether it is running or still queued behind its
chat's earlier messages, so only a dead or frozen replica's messages are ever redelivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from nats.aio.msg import Msg

from imagebot_dispatcher.consumer import metrics
from imagebot_dispatcher.consumer.envelope import Envelope

log = logging.getLogger("imagebot.dispatcher.consumer")

ACK_TIMEOUT = 2.0


def always(_: Envelope) -> bool:
    return True


class HeldMessages:
    def __init__(self, confirm_ack: Callable[[Envelope], bool] = always) -> None:
        """`confirm_ack(envelope)`: must this ack wait for the server's confirmation (see `ack`)?"""
        self._confirm_ack = confirm_ack
        self._by_seq: dict[int, Envelope] = {}
        self._per_partition: Counter[int] = Counter()

    def admit(self, msg: Msg, consumer: str) -> tuple[Envelope, bool]:
        """Track a delivery; (envelope, True) if new, (the held envelope with its newer delivery, False) if not."""
        seq = msg.metadata.sequence.stream
        held = self._by_seq.get(seq)
        if held is not None:
            held.msg = msg
            return held, False
        envelope = Envelope.of(msg, consumer)
        self._by_seq[seq] = envelope
        self._per_partition[envelope.partition] += 1
        metrics.HELD.inc()
        return envelope, True

    def count(self, partition: int) -> int:
        return self._per_partition[partition]

    def __len__(self) -> int:
        return len(self._by_seq)

    def _forget(self, envelope: Envelope) -> None:
        if self._by_seq.get(envelope.seq) is envelope:
            del self._by_seq[envelope.seq]
            self._per_partition[envelope.partition] -= 1
            metrics.HELD.dec()
        envelope.settled = True

    async def ack(self, envelope: Envelope) -> bool:
        """Confirmed (`ack_sync`) while the chat's next message may be head-checked: the work queue has deleted this
        one before that check runs. Otherwise a plain ack: a server round trip is ~0.4 ms of this process's CPU per
        update at moderate load (bench), and an ack that gets lost only means a redelivery that the handled-updates
        record turns into a duplicate acknowledged without running."""
        try:
            if self._confirm_ack(envelope):
                await envelope.msg.ack_sync(timeout=ACK_TIMEOUT)
            else:
                await envelope.msg.ack()
            return True
        except Exception as exc:  # it will be redelivered and recognised as handled
            log.warning("ack of %s seq %d failed: %s", envelope.msg.subject, envelope.seq, exc)
            return False
        finally:
            self._forget(envelope)

    async def term(self, envelope: Envelope) -> None:
        try:
            await envelope.msg.term()
        except Exception as exc:
            log.warning("term of %s seq %d failed: %s", envelope.msg.subject, envelope.seq, exc)
        finally:
            self._forget(envelope)

    async def release(self, envelope: Envelope) -> None:
        """Give a message back for immediate redelivery (to whoever owns the partition next)."""
        try:
            await envelope.msg.nak()
        except Exception as exc:
            log.debug("nak of seq %d failed: %s", envelope.seq, exc)
        finally:
            self._forget(envelope)

    def drop(self, envelope: Envelope) -> None:
        """Stop tracking without telling the server (the message is gone from the stream already)."""
        self._forget(envelope)

    async def release_all(self) -> None:
        for envelope in list(self._by_seq.values()):
            await self.release(envelope)

    async def heartbeat_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for envelope in list(self._by_seq.values()):
                try:
                    await envelope.msg.in_progress()
                except Exception as exc:  # disconnected: the next round retries
                    log.debug("heartbeat for seq %d failed: %s", envelope.seq, exc)
