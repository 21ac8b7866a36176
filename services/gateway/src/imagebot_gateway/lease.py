"""A lease in the NATS KV bucket `leases`: at most one gateway replica holds it at a time.

Taken with `kv.create` (fails if someone holds it), renewed with a compare-and-set `kv.update` every third
of the TTL; the bucket's TTL expires a lease whose holder died, and another replica takes it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger("imagebot.gateway.lease")


class Lease:
    def __init__(self, kv: KeyValue, name: str, holder: str, ttl: float):
        self._kv, self.name, self.holder, self._ttl = kv, name, holder, ttl
        self._revision: int | None = None
        self.current_holder: str | None = None
        self.last_check: datetime | None = None
        self.acquired = asyncio.Event()
        self.lost = asyncio.Event()

    @property
    def held(self) -> bool:
        return self._revision is not None

    async def run(self) -> None:
        """Keep trying to take the lease and keep it renewed, until cancelled."""
        while True:
            try:
                await self._try_once()
            except (NatsError, TimeoutError) as exc:
                log.warning("lease %s: NATS unavailable (%s)", self.name, type(exc).__name__)
                self._drop()
            await asyncio.sleep(self._ttl / 3)

    async def _try_once(self) -> None:
        self.last_check = datetime.now(UTC)
        value = self.holder.encode()
        if self._revision is None:
            try:
                self._revision = await self._kv.create(self.name, value)
            except KeyWrongLastSequenceError:
                self.current_holder = await self._read_holder()
                return
            self.current_holder = self.holder
            self.lost.clear()
            self.acquired.set()
            log.info("lease %s acquired by %s", self.name, self.holder)
            return
        try:
            self._revision = await self._kv.update(self.name, value, last=self._revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            log.warning("lease %s lost (expired or taken over)", self.name)
            self._drop()

    def _drop(self) -> None:
        if self._revision is not None:
            self._revision = None
            self.acquired.clear()
            self.lost.set()

    async def _read_holder(self) -> str | None:
        try:
            entry = await self._kv.get(self.name)
        except KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def release(self) -> None:
        """Give the lease back on shutdown so another replica need not wait for the TTL."""
        if self._revision is None:
            return
        with contextlib.suppress(NatsError, TimeoutError, KeyWrongLastSequenceError):
            await self._kv.delete(self.name, last=self._revision)
        self._drop()

    def snapshot(self) -> dict[str, object]:
        return {
            "lock_acquired": self.held,
            "holder": self.current_holder,
            "last_check": self.last_check.isoformat() if self.last_check else None,
        }
