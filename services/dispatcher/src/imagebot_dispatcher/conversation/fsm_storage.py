"""aiogram FSM storage on the NATS KV bucket `fsm`, so any dispatcher replica can continue any conversation.

Keys follow aiogram's DefaultKeyBuilder (prefix, bot id, business connection, chat, thread, user, destiny,
part) with `.` as the separator, since KV keys must match `[-/_=.a-zA-Z0-9]+`. Integers (negative chat ids
included: `-` is a legal key character) are written as they are; free-form strings (business connection id,
destiny) are base64url-encoded when they hold anything else. Optional parts carry a tag (`bc_`, `th_`, `ds_`)
so two different storage keys can never build the same KV key.

A conversation's state and data live in one record (one KV key, JSON `{"state": ..., "data": {...}}`), and every
change is a compare-and-set on the record's revision, so concurrent writers never lose a field. Inside
`remembering_reads()` (one update or event) a record is read from the server at most once and a write that would
change nothing is skipped: /start's `state.clear()` after aiogram's own `get_state` costs no round trip when there
was nothing to clear (each round trip is ~0.4 ms of the dispatcher's CPU at moderate load, bench). `read_ahead`
reads a record before its update runs (the dispatcher does it while the engine asks whether the update was handled
already, when it has to ask, so the two round trips cost the wait of one); `remembering_reads(read_ahead)` then
starts from it, a failed read ahead included: the update's first read fails the same way, without a second wait.

Reads must see the latest write: a stale copy of a conversation would send it the wrong way. So a bucket with
replicas is read from its stream leader (a JSON API request and answer), and a bucket of one replica with direct
gets (`direct_reads`): that one server is the only one that answers them, so they are just as fresh, and cheaper
for it (nats-server CPU per read of a missing key, 3 ms apart: ~185 µs direct against ~250 µs through the API).
Where nothing answers direct gets, a read asks the leader instead.

Every operation has a deadline and fails fast while NATS is disconnected; failures surface as
`FsmStorageUnavailable` so the conversation can degrade (/start answers without state) instead of hanging.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DEFAULT_DESTINY, BaseStorage, KeyBuilder, StateType, StorageKey
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.errors import APIError, KeyWrongLastSequenceError

from imagebot_common.nats.kv_reads import KvLatest, KvLatestReader
from imagebot_common.nats.requests import RequestMux

T = TypeVar("T")
_PLAIN_TOKEN = re.compile(r"^[-_=a-zA-Z0-9]+$")
_CAS_ATTEMPTS = 5
_WRONG_LAST_SEQUENCE = (10071, 10164)


class FsmStorageUnavailable(RuntimeError):
    """The FSM bucket could not be read or written in time (NATS down, bucket missing, timeout)."""


def kv_token(value: str | int) -> str:
    """One key token: an int as is, a string as is when it is plain, else `b64_` + unpadded base64url."""
    if isinstance(value, int):
        return str(value)
    if _PLAIN_TOKEN.match(value) and not value.startswith("b64_"):
        return value
    return "b64_" + base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


class KvKeyBuilder(KeyBuilder):
    """`fsm.<bot>[.bc_<bcid>].<chat>[.th_<thread>].<user>[.ds_<destiny>].<part>` (bot id always included)."""

    def __init__(self, *, prefix: str = "fsm", with_destiny: bool = True) -> None:
        self.prefix = prefix
        self.with_destiny = with_destiny

    def build(self, key: StorageKey, part: Literal["data", "state", "lock"] | None = None) -> str:
        tokens = [self.prefix, kv_token(key.bot_id)]
        if key.business_connection_id:
            tokens.append("bc_" + kv_token(key.business_connection_id))
        tokens.append(kv_token(key.chat_id))
        if key.thread_id:
            tokens.append("th_" + kv_token(key.thread_id))
        tokens.append(kv_token(key.user_id))
        if self.with_destiny:
            tokens.append("ds_" + kv_token(key.destiny))
        elif key.destiny != DEFAULT_DESTINY:
            raise ValueError("this key builder was made without destinies; use with_destiny=True")
        if part:
            tokens.append(part)
        return ".".join(tokens)


@dataclass(frozen=True)
class _Record:
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    revision: int = 0  # of the stored record or its delete marker; 0 when the key never existed (or expired)
    # False when the read found no bucket at all: then no write may be skipped, so the caller learns of the outage.
    bucket_seen: bool = True

    def same_content(self, other: _Record) -> bool:
        return self.state == other.state and self.data == other.data

    @property
    def empty(self) -> bool:
        return self.state is None and not self.data

    def encode(self) -> bytes:
        return json.dumps({"state": self.state, "data": self.data}, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes, revision: int) -> _Record:
        stored = json.loads(raw)
        if not isinstance(stored, dict):
            return cls(revision=revision)
        state, data = stored.get("state"), stored.get("data")
        return cls(state if isinstance(state, str) else None, data if isinstance(data, dict) else {}, revision)


@dataclass(frozen=True)
class RecordReadAhead:
    """A record read before its update ran, for `remembering_reads`: the record, or why it could not be read."""

    kv_key: str
    outcome: _Record | FsmStorageUnavailable


class _Memory(dict[str, "_Record | FsmStorageUnavailable"]):
    """Records read or written during one update. `closed` once the update is over: a task the handler started
    carries the context (and so this object) along, and must not go on trusting what the update read."""

    closed = False


# None outside `remembering_reads`: always ask the server.
_remembered: ContextVar[_Memory | None] = ContextVar("imagebot_fsm_remembered", default=None)


def _open_memory() -> _Memory | None:
    memory = _remembered.get()
    return memory if memory is not None and not memory.closed else None


class NatsKvStorage(BaseStorage):
    """FSM state and data as one KV record per conversation; a record with no state and no data is deleted."""

    def __init__(
        self,
        nc: Client,
        *,
        bucket: str,
        key_builder: KeyBuilder | None = None,
        ttl: float | None = None,
        timeout: float = 1.0,
        direct_reads: bool = False,
    ) -> None:
        """`direct_reads` only for a bucket of one replica (see the module's docstring)."""
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        requests = RequestMux(nc)
        self._leader_reader = KvLatestReader(requests, bucket, direct=False, timeout=timeout)
        self._direct_reader = KvLatestReader(requests, bucket, direct=True, timeout=timeout) if direct_reads else None
        self._subject_prefix = f"$KV.{bucket}."
        self.key_builder = key_builder or KvKeyBuilder()
        self.ttl = ttl or None
        self._timeout = timeout

    @staticmethod
    @contextlib.contextmanager
    def remembering_reads(read_ahead: RecordReadAhead | None = None) -> Iterator[None]:
        """One update's worth of FSM work: each record is read once, unchanged records are not written back.

        Safe because a chat's updates and events run one at a time (the dispatcher's per-chat lanes), so nobody
        else writes this conversation's record meanwhile; and if someone did, the revision check refuses the write
        and the record is read again. A `read_ahead` counts as the first read of its record."""
        memory = _Memory()
        if read_ahead is not None:
            memory[read_ahead.kv_key] = read_ahead.outcome
        token = _remembered.set(memory)
        try:
            yield
        finally:
            memory.closed = True
            _remembered.reset(token)

    async def _call(self, operation: Awaitable[T]) -> T:
        if not self._nc.is_connected:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise FsmStorageUnavailable("NATS is not connected")
        try:
            async with asyncio.timeout(self._timeout):  # not wait_for: that wraps the call in a task of its own
                return await operation
        except KeyWrongLastSequenceError:
            raise
        except APIError as exc:
            if exc.err_code in _WRONG_LAST_SEQUENCE:
                raise KeyWrongLastSequenceError(description=exc.description) from exc
            raise FsmStorageUnavailable(f"FSM bucket unavailable: {type(exc).__name__}") from exc
        except (NatsError, TimeoutError, OSError) as exc:
            raise FsmStorageUnavailable(f"FSM bucket unavailable: {type(exc).__name__}") from exc

    async def read_ahead(self, key: StorageKey) -> RecordReadAhead:
        """Read `key`'s record now, for a `remembering_reads` to come; a failure is kept, not raised."""
        kv_key = self.key_builder.build(key)
        try:
            return RecordReadAhead(kv_key, await self._read(kv_key))
        except FsmStorageUnavailable as exc:
            return RecordReadAhead(kv_key, exc)

    async def _load(self, kv_key: str) -> _Record:
        remembered = _open_memory()
        if remembered is not None and kv_key in remembered:
            known = remembered[kv_key]
            if not isinstance(known, FsmStorageUnavailable):
                return known
            del remembered[kv_key]  # a read ahead that failed fails this read; the next one asks the server
            raise known
        return self._remember(kv_key, await self._read(kv_key))

    async def _read(self, kv_key: str) -> _Record:
        latest = await self._call(self._latest(kv_key))
        if latest.value is None:  # never written, or deleted / purged (a marker's revision guards the next write)
            return _Record(revision=latest.revision, bucket_seen=latest.bucket_exists)
        return _Record.decode(latest.value or b"null", latest.revision)

    async def _latest(self, kv_key: str) -> KvLatest:
        if self._direct_reader is not None:
            try:
                return await self._direct_reader.latest(kv_key)
            except NoRespondersError:
                # Nothing serves direct gets: the bucket is gone (the leader read says so), or a replica of an
                # older version re-provisioned it without them during a rolling upgrade.
                pass
        return await self._leader_reader.latest(kv_key)

    @staticmethod
    def _remember(kv_key: str, record: _Record) -> _Record:
        remembered = _open_memory()
        if remembered is not None:
            remembered[kv_key] = record
        return record

    @staticmethod
    def _forget(kv_key: str) -> None:
        remembered = _open_memory()
        if remembered is not None:
            remembered.pop(kv_key, None)

    async def _change(self, key: StorageKey, change: Callable[[_Record], _Record]) -> _Record:
        """Read-change-write guarded by the revision (compare-and-set); the record as it now is."""
        kv_key = self.key_builder.build(key)
        for _ in range(_CAS_ATTEMPTS):
            current = await self._load(kv_key)
            wanted = change(current)
            if current.bucket_seen and wanted.same_content(current):
                return current
            try:
                revision = await self._write(kv_key, wanted, expected_revision=current.revision)
            except KeyWrongLastSequenceError:
                self._forget(kv_key)  # someone else wrote it: read it again
                continue
            return self._remember(kv_key, replace(wanted, revision=revision))
        raise FsmStorageUnavailable(f"FSM record kept changing under a write ({_CAS_ATTEMPTS} attempts)")

    async def _write(self, kv_key: str, record: _Record, *, expected_revision: int) -> int:
        # A plain publish to the key's subject is what kv.put / kv.purge do; going direct lets it carry a Nats-TTL
        # and the expected last revision. An empty record becomes a purge marker, which with a TTL leaves nothing
        # behind once it expires (a plain delete would leave a tombstone).
        headers = {"Nats-Expected-Last-Subject-Sequence": str(expected_revision)}
        payload = b""
        if record.empty:
            headers.update({"KV-Operation": "PURGE", "Nats-Rollup": "sub"})
        else:
            payload = record.encode()
        publish = self._js.publish(
            self._subject_prefix + kv_key, payload, headers=headers, msg_ttl=self.ttl, timeout=self._timeout
        )
        ack = await self._call(publish)
        return ack.seq

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        stored = None if value is None else str(value)
        await self._change(key, lambda record: replace(record, state=stored))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._load(self.key_builder.build(key))).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        # A JSON round trip: what is stored is what a later read returns (and the caller's dict stays theirs).
        stored = json.loads(json.dumps(data, ensure_ascii=False))
        await self._change(key, lambda record: replace(record, data=stored))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._load(self.key_builder.build(key))).data)

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        """Merges like dict.update, under the record's compare-and-set, so concurrent writers never lose a field."""
        added = json.loads(json.dumps(dict(data), ensure_ascii=False))
        record = await self._change(key, lambda current: replace(current, data={**current.data, **added}))
        return dict(record.data)

    async def close(self) -> None:
        """The NATS connection belongs to the process, not to the storage."""
