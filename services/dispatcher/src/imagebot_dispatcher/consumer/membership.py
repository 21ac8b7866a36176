"""The `dispatcher_members` registry: who is alive, since when, and which partitions each one owns.

Each replica rewrites its own key every heartbeat; the bucket's TTL (CONSUMER_MEMBER_TTL) removes the key of a
replica that stopped (killed, frozen, cut off), and a graceful shutdown deletes it at once. The keys present are
the live members. Reading is a stream-info request listing the bucket's subjects plus one get per member, so a
member's view never depends on a long-lived watcher surviving reconnects.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from imagebot_common.nats import topology

_KEY_UNSAFE = re.compile(r"[^-_=a-zA-Z0-9]")


@dataclass(frozen=True)
class Member:
    member: str
    since: float  # wall-clock start of that replica: the same number for every reader, unlike "first seen"
    owned: frozenset[int]


def member_key(wanted: str) -> str:
    """A valid KV key from the instance id; a random one for engines without an id (several in one process)."""
    return _KEY_UNSAFE.sub("_", wanted) if wanted else f"engine-{secrets.token_hex(4)}"


class MemberRegistry:
    def __init__(self, js: JetStreamContext, member: str, *, ttl: float, replicas: int) -> None:
        self._js, self.member = js, member
        self._config = topology.dispatcher_members_bucket(ttl, replicas)
        self._kv: KeyValue | None = None
        self.since = time.time()
        self._prefix = f"$KV.{self._config.bucket}."

    async def _bucket(self) -> KeyValue:
        if self._kv is None:  # first use, or the bucket vanished (server restart without storage, a test wiping it)
            self._kv = await topology.ensure_key_value(self._js, self._config)
        return self._kv

    async def heartbeat(self, owned: list[int]) -> None:
        kv = await self._bucket()
        body = {"member": self.member, "since": self.since, "owned": sorted(owned), "at": time.time()}
        try:
            await kv.put(self.member, json.dumps(body).encode())
        except Exception:
            self._kv = None
            raise

    async def members(self) -> dict[str, Member]:
        kv = await self._bucket()
        info = await self._js.stream_info(f"KV_{self._config.bucket}", subjects_filter=f"{self._prefix}>")
        keys = [subject.removeprefix(self._prefix) for subject in (info.state.subjects or {})]
        found = await asyncio.gather(*(self._read(kv, key) for key in keys))
        return {member.member: member for member in found if member is not None}

    @staticmethod
    async def _read(kv: KeyValue, key: str) -> Member | None:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:  # deleted (a graceful leave) or expired between the listing and the read
            return None
        try:
            body = json.loads(entry.value or b"")
            return Member(key, float(body["since"]), frozenset(int(p) for p in body.get("owned", [])))
        except (ValueError, KeyError, TypeError):
            return None  # not ours to interpret: ignoring it is safer than balancing over it

    async def leave(self) -> None:
        if self._kv is not None:
            await self._kv.delete(self.member)
