"""A bot's update queue, shared by webhook delivery and getUpdates (Telegram keeps one queue per bot)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

# Updates not delivered unless asked for explicitly in allowed_updates.
NOT_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_MESSAGE_KINDS = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "business_message", "edited_business_message"}
)
# Seconds an undelivered update is kept, per type (telegram-bot-api Client.cpp); messages: date + 24 h.
_LIFETIME = {
    "callback_query": 150,
    "inline_query": 30,
    "chosen_inline_result": 600,
    "shipping_query": 150,
    "pre_checkout_query": 150,
}
DAY = 86400
# Updates queued per user, not per chat: user id + (shift << 33), as in telegram-bot-api.
_USER_QUEUES = {
    "inline_query": 1,
    "chosen_inline_result": 2,
    "callback_query": 3,
    "shipping_query": 4,
    "pre_checkout_query": 4,
    "chat_join_request": 6,
}


def update_kind(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "unknown")


def _id_at(obj: Any, *path: str) -> int:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj if isinstance(obj, int) and not isinstance(obj, bool) else 0


def queue_key(update: dict[str, Any]) -> int:
    """Telegram's webhook_queue_id: one delivery queue per key, only its head is in flight."""
    kind = update_kind(update)
    body = update.get(kind)
    if kind in {"message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member"}:
        return _id_at(body, "chat", "id")
    if kind in {"business_message", "edited_business_message"}:
        return _id_at(body, "chat", "id") + (11 << 33)
    if kind in {"message_reaction", "message_reaction_count", "chat_boost", "removed_chat_boost"}:
        return _id_at(body, "chat", "id")
    shift = _USER_QUEUES.get(kind)
    if shift is not None:
        return _id_at(body, "from", "id") + (shift << 33)
    if kind == "chat_member":
        return _id_at(body, "new_chat_member", "user", "id") + (5 << 33)
    if kind == "poll_answer":
        return _id_at(body, "user", "id") + (7 << 33)
    return 0  # polls and other chat-less updates share one queue


def expires_at(update: dict[str, Any], now: float) -> float:
    kind = update_kind(update)
    if kind in _MESSAGE_KINDS:
        date = _id_at(update.get(kind), "date") or int(now)
        return date + DAY
    return now + _LIFETIME.get(kind, DAY)


def allowed(kind: str, allowed_updates: list[str] | None) -> bool:
    if not allowed_updates:
        return kind not in NOT_DEFAULT
    return kind in allowed_updates


@dataclass
class PendingUpdate:
    seq: int  # insertion order; raw updates may repeat an update_id on purpose
    update_id: int
    payload: dict[str, Any]
    kind: str
    key: int
    expires_at: float
    attempts: int = 0
    not_before: float = 0.0  # monotonic time of the next webhook attempt
    in_flight: bool = False


@dataclass
class UpdateStore:
    next_update_id: int = field(default_factory=lambda: random.randint(100_000_000, 900_000_000))
    items: dict[int, PendingUpdate] = field(default_factory=dict)
    _seq: itertools.count = field(default_factory=itertools.count)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        """Wake every waiter (long polls, the webhook scheduler): a new Event per generation."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def take_update_id(self) -> int:
        update_id = self.next_update_id
        self.next_update_id += 1
        return update_id

    def add(self, payload: dict[str, Any]) -> PendingUpdate:
        if "update_id" not in payload:
            payload = {"update_id": self.take_update_id(), **payload}
        elif payload["update_id"] >= self.next_update_id:
            self.next_update_id = payload["update_id"] + 1
        item = PendingUpdate(
            seq=next(self._seq),
            update_id=payload["update_id"],
            payload=payload,
            kind=update_kind(payload),
            key=queue_key(payload),
            expires_at=expires_at(payload, time.time()),
        )
        self.items[item.seq] = item
        self.notify()
        return item

    def remove(self, item: PendingUpdate) -> None:
        self.items.pop(item.seq, None)
        self.notify()

    def purge_expired(self) -> list[PendingUpdate]:
        now = time.time()
        expired = [item for item in self.items.values() if item.expires_at <= now and not item.in_flight]
        for item in expired:
            del self.items[item.seq]
        return expired

    def confirm(self, offset: int) -> None:
        """getUpdates offset semantics: lower ids are confirmed; a negative offset keeps the last -offset."""
        if offset < 0:
            keep = list(self.items.values())[offset:]
            self.items = {item.seq: item for item in keep}
        else:
            self.items = {s: item for s, item in self.items.items() if item.update_id >= offset}

    def clear(self) -> None:
        self.items.clear()
        self.notify()

    def pending(self) -> list[PendingUpdate]:
        return list(self.items.values())
