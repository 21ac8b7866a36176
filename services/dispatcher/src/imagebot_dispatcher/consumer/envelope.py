"""One stored message while this replica holds it: from delivery until it is acked, terminated or released."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from nats.aio.msg import Msg

from imagebot_dispatcher.consumer.partitions import PartitionedSubject


@dataclass(eq=False)
class Envelope:
    msg: Msg  # the newest delivery: a redelivery of a held sequence replaces it, and acks go to its reply subject
    where: PartitionedSubject
    seq: int
    consumer: str
    received_at: float = field(default_factory=time.monotonic)
    settled: bool = False

    @classmethod
    def of(cls, msg: Msg, consumer: str) -> Envelope:
        return cls(
            msg=msg, where=PartitionedSubject.parse(msg.subject), seq=msg.metadata.sequence.stream, consumer=consumer
        )

    @property
    def deliveries(self) -> int:
        return self.msg.metadata.num_delivered

    @property
    def chat(self) -> str:
        return self.where.chat

    @property
    def partition(self) -> int:
        return self.where.partition
