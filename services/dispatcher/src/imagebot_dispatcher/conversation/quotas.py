"""Cost protection: per user, at most N generations in flight and at most H per rolling hour / D per rolling day.

One KV key per user (`u.<bot>.<user>` in the bucket `quotas`) holds the jobs in flight (with an expiry, in case
a result never comes) and the start times of the last day's jobs. It is changed with compare-and-set, so two
replicas can never both take the last slot. Reserving is idempotent per job id: a redelivered button press
counts once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

HOUR = 3600.0
DAY = 24 * HOUR
_CAS_ATTEMPTS = 8

DenialReason = Literal["active", "hourly", "daily"]


@dataclass(frozen=True)
class QuotaLimits:
    active: int = 2  # 0 = no limit
    active_ttl: float = 600.0
    hourly: int = 10
    daily: int = 50


@dataclass(frozen=True)
class QuotaDecision:
    allowed: bool
    reason: DenialReason | None = None
    limit: int = 0
    active: int = 0
    retry_after: float = 0.0  # seconds until a slot frees (0 for `active`: it frees when a result arrives)


@dataclass
class _Usage:
    active: dict[str, float]  # job id -> expires at (epoch seconds)
    started: list[tuple[float, str]]  # (epoch seconds, job id), the last day's jobs

    @classmethod
    def decode(cls, raw: bytes | None) -> _Usage:
        if not raw:
            return cls({}, [])
        doc = json.loads(raw)
        return cls(dict(doc.get("active", {})), [(float(t), str(j)) for t, j in doc.get("started", [])])

    def encode(self) -> bytes:
        return json.dumps({"active": self.active, "started": self.started}, separators=(",", ":")).encode()

    def prune(self, now: float) -> None:
        self.active = {job: until for job, until in self.active.items() if until > now}
        self.started = [(t, job) for t, job in self.started if t > now - DAY]


def quota_key(bot_id: int, user_id: int) -> str:
    return f"u.{bot_id}.{user_id}"


class QuotaBook:
    def __init__(
        self, kv: KeyValue, limits: QuotaLimits, *, timeout: float = 1.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._kv = kv
        self.limits = limits
        self._timeout = timeout
        self._clock = clock

    async def _load(self, key: str) -> tuple[_Usage, int]:
        try:
            entry = await asyncio.wait_for(self._kv.get(key), self._timeout)
        except KeyNotFoundError as exc:
            return _Usage.decode(None), (exc.entry.revision or 0) if exc.entry is not None else 0
        return _Usage.decode(entry.value), entry.revision or 0

    async def _store(self, key: str, usage: _Usage, revision: int) -> None:
        await asyncio.wait_for(self._kv.update(key, usage.encode(), last=revision), self._timeout)

    def _decide(self, usage: _Usage, now: float) -> QuotaDecision:
        limits = self.limits
        if limits.active and len(usage.active) >= limits.active:
            return QuotaDecision(False, "active", limits.active, active=len(usage.active))
        if limits.hourly:
            last_hour = sorted(t for t, _ in usage.started if t > now - HOUR)
            if len(last_hour) >= limits.hourly:
                frees_at = last_hour[len(last_hour) - limits.hourly] + HOUR
                return QuotaDecision(False, "hourly", limits.hourly, retry_after=max(frees_at - now, 1.0))
        if limits.daily:
            last_day = sorted(t for t, _ in usage.started)
            if len(last_day) >= limits.daily:
                frees_at = last_day[len(last_day) - limits.daily] + DAY
                return QuotaDecision(False, "daily", limits.daily, retry_after=max(frees_at - now, 1.0))
        return QuotaDecision(True)

    async def reserve(self, bot_id: int, user_id: int, job_id: str) -> QuotaDecision:
        """Count `job_id` against the user's limits, or say which limit refuses it and for how long."""
        key = quota_key(bot_id, user_id)
        for _ in range(_CAS_ATTEMPTS):
            usage, revision = await self._load(key)
            now = self._clock()
            usage.prune(now)
            if job_id in usage.active or any(job == job_id for _, job in usage.started):
                return QuotaDecision(True)  # the same job asked twice (a redelivered update)
            decision = self._decide(usage, now)
            if not decision.allowed:
                return decision
            usage.active[job_id] = now + self.limits.active_ttl
            usage.started.append((now, job_id))
            try:
                await self._store(key, usage, revision)
            except KeyWrongLastSequenceError:
                continue
            return decision
        raise RuntimeError(f"quota of user {user_id} kept changing ({_CAS_ATTEMPTS} attempts)")

    async def release(self, bot_id: int, user_id: int, job_id: str, *, refund: bool = False) -> None:
        """The job is over: it stops counting as active (and, with `refund`, stops counting at all)."""
        key = quota_key(bot_id, user_id)
        for _ in range(_CAS_ATTEMPTS):
            usage, revision = await self._load(key)
            was_counted = job_id in usage.active or (refund and any(job == job_id for _, job in usage.started))
            if not was_counted:
                return
            usage.active.pop(job_id, None)
            if refund:
                usage.started = [(t, job) for t, job in usage.started if job != job_id]
            usage.prune(self._clock())
            try:
                await self._store(key, usage, revision)
            except KeyWrongLastSequenceError:
                continue
            return
        raise RuntimeError(f"quota of user {user_id} kept changing ({_CAS_ATTEMPTS} attempts)")
