"""aiogram FSM storage on the NATS KV bucket `fsm`, so any dispatcher replica can continue any conversation.

Keys follow aiogram's DefaultKeyBuilder (prefix, bot id, business connection, chat, thread, user, destiny,
part) with `.` as the separator, since KV keys must match `[-/_=.a-zA-Z0-9]+`. Integers (negative chat ids
included: `-` is a legal key character) are written as they are; free-form strings (business connection id,
destiny) are base64url-encoded when they hold anything else. Optional parts carry a tag (`bc_`, `th_`, `ds_`)
so two different storage keys can never build the same KV key.

Every operation has a deadline and fails fast while NATS is disconnected; failures surface as
`FsmStorageUnavailable` so the conversation can degrade (/start answers without state) instead of hanging.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Mapping
from typing import Any, Literal, TypeVar

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DEFAULT_DESTINY, BaseStorage, KeyBuilder, StateType, StorageKey
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

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


class NatsKvStorage(BaseStorage):
    """FSM state and data as two KV keys per conversation; `None` state and `{}` data delete their key."""

    def __init__(
        self,
        nc: Client,
        kv: KeyValue,
        *,
        bucket: str,
        key_builder: KeyBuilder | None = None,
        state_ttl: float | None = None,
        data_ttl: float | None = None,
        timeout: float = 1.0,
    ) -> None:
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self._kv = kv
        self._subject_prefix = f"$KV.{bucket}."
        self.key_builder = key_builder or KvKeyBuilder()
        self.state_ttl = state_ttl or None
        self.data_ttl = data_ttl or None
        self._timeout = timeout

    async def _call(self, operation: Awaitable[T]) -> T:
        if not self._nc.is_connected:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise FsmStorageUnavailable("NATS is not connected")
        try:
            return await asyncio.wait_for(operation, self._timeout)
        except (KeyNotFoundError, KeyWrongLastSequenceError):
            raise
        except APIError as exc:
            if exc.err_code in _WRONG_LAST_SEQUENCE:
                raise KeyWrongLastSequenceError(description=exc.description) from exc
            raise FsmStorageUnavailable(f"FSM bucket unavailable: {type(exc).__name__}") from exc
        except (NatsError, TimeoutError, OSError) as exc:
            raise FsmStorageUnavailable(f"FSM bucket unavailable: {type(exc).__name__}") from exc

    async def _read(self, key: str) -> tuple[bytes | None, int]:
        """The value and its revision; None and the delete marker's revision (or 0) when absent."""
        try:
            entry = await self._call(self._kv.get(key))
        except KeyNotFoundError as exc:
            marker = exc.entry
            return None, (marker.revision or 0) if marker is not None else 0
        return entry.value, entry.revision or 0

    async def _write(self, key: str, value: bytes, ttl: float | None, *, expected_revision: int | None = None) -> None:
        # A plain publish to the key's subject is what kv.put does; going direct lets it carry a Nats-TTL and,
        # for compare-and-set, the expected last revision of the key.
        headers = None if expected_revision is None else {"Nats-Expected-Last-Subject-Sequence": str(expected_revision)}
        publish = self._js.publish(
            self._subject_prefix + key, value, headers=headers, msg_ttl=ttl, timeout=self._timeout
        )
        await self._call(publish)

    async def _delete(self, key: str, ttl: float | None) -> None:
        # A purge marker with a TTL leaves nothing behind once it expires (a plain delete leaves a tombstone).
        await self._call(self._kv.purge(key, msg_ttl=ttl or None))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        kv_key = self.key_builder.build(key, "state")
        if state is None:
            await self._delete(kv_key, self.state_ttl)
            return
        value = state.state if isinstance(state, State) else state
        await self._write(kv_key, str(value).encode(), self.state_ttl)

    async def get_state(self, key: StorageKey) -> str | None:
        value, _ = await self._read(self.key_builder.build(key, "state"))
        return value.decode() if value is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        kv_key = self.key_builder.build(key, "data")
        if not data:
            await self._delete(kv_key, self.data_ttl)
            return
        await self._write(kv_key, json.dumps(data, ensure_ascii=False).encode(), self.data_ttl)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        value, _ = await self._read(self.key_builder.build(key, "data"))
        return _decode_data(value)

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        """Read-merge-write guarded by the revision (compare-and-set), so concurrent writers never lose a field."""
        kv_key = self.key_builder.build(key, "data")
        for _ in range(_CAS_ATTEMPTS):
            raw, revision = await self._read(kv_key)
            merged = {**_decode_data(raw), **data}
            if not merged:
                return {}
            try:
                await self._write(
                    kv_key, json.dumps(merged, ensure_ascii=False).encode(), self.data_ttl, expected_revision=revision
                )
            except KeyWrongLastSequenceError:
                continue
            return dict(merged)
        raise FsmStorageUnavailable(f"FSM data kept changing under update_data ({_CAS_ATTEMPTS} attempts)")

    async def close(self) -> None:
        """The NATS connection belongs to the process, not to the storage."""


def _decode_data(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {}
    data = json.loads(raw)
    return data if isinstance(data, dict) else {}
