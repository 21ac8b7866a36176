"""Partition arithmetic and the partitioned subject `tg.p.<partition>.<upd|evt>.<chat key>`.

The gateway's stream transform decides the partition count; the dispatcher reads it back from the stream's
configuration instead of keeping a second copy of the number that could disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nats.js.api import StreamConfig

from imagebot_common.nats import subjects
from imagebot_dispatcher.consumer.options import CONSUMER_PREFIX

UPDATE_KIND = "upd"
EVENT_KIND = "evt"
SPAN_TEMPLATE = "tg.p.{partition}.{kind}.{chat_id}"
_PARTITION_FN = re.compile(r"\{\{\s*partition\(\s*(\d+)\s*,")
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193


class NotPartitionedError(ValueError):
    """The stream has no `{{partition(n,...)}}` transform, so per-partition consumers make no sense."""


@dataclass(frozen=True)
class PartitionedSubject:
    partition: int
    kind: str  # "upd" or "evt"
    chat: str  # the chat key token exactly as stored (may be negative)

    @classmethod
    def parse(cls, subject: str) -> PartitionedSubject:
        parts = subject.split(".")
        prefix = subjects.PARTITIONED_PREFIX.split(".")
        if len(parts) != len(prefix) + 3 or parts[: len(prefix)] != prefix:
            raise ValueError(f"not a partitioned subject: {subject!r}")
        partition, kind, chat = parts[len(prefix) :]
        if kind not in (UPDATE_KIND, EVENT_KIND):
            raise ValueError(f"unknown message kind {kind!r} in {subject!r}")
        return cls(int(partition), kind, chat)

    @property
    def chat_filter(self) -> str:
        """Both kinds of this chat's messages: the subject whose oldest stored message is the chat's head."""
        return f"{subjects.PARTITIONED_PREFIX}.{self.partition}.*.{self.chat}"


def partition_count(config: StreamConfig) -> int:
    transform = config.subject_transform
    match = _PARTITION_FN.search(transform.dest) if transform is not None and transform.dest else None
    if match is None:
        raise NotPartitionedError(f"stream {config.name} has no partition transform")
    return int(match.group(1))


def consumer_name(partition: int, count: int) -> str:
    width = max(2, len(str(count - 1)))
    return f"{CONSUMER_PREFIX}{partition:0{width}d}"


def partition_of(chat_key: str, count: int) -> int:
    """The server's own mapping (FNV-1a 32 of the token, mod n), for logs and tests."""
    digest = _FNV_OFFSET
    for byte in chat_key.encode():
        digest = ((digest ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return digest % count
