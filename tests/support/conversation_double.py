"""A stand-in for the dispatcher's conversation (the other side of the engine's seam), scripted by the update.

The update's `message.text` says what to do: `sleep:<ms>` waits, `fail:<reason>` raises; `message.message_id` is
the chat's sequence number, so the order the handlers ran in is visible. Hooks let a test or a replica process
record what started and what finished. Its read ahead is a token naming the update, and each handler call notes
the one it was given.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Hook = Callable[[int, int, int], Awaitable[None]]  # (chat id, message id, update id)


class ScriptedConversation:
    def __init__(
        self,
        *,
        delay: Callable[[], float] | None = None,
        on_started: Hook | None = None,
        on_handled: Hook | None = None,
    ) -> None:
        self._delay, self._on_started, self._on_handled = delay, on_started, on_handled
        self.handled: dict[int, list[int]] = defaultdict(list)  # chat -> message ids, in handling order
        self.attempts: dict[int, int] = defaultdict(int)  # update id -> calls
        self.read_aheads: dict[int, list[object | None]] = defaultdict(list)  # update id -> one per call
        self.events: list[tuple[str, bytes, dict[str, str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.started = False
        self.closed = False

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    @property
    def handled_count(self) -> int:
        return sum(len(ids) for ids in self.handled.values())

    async def read_ahead(self, update: dict[str, Any]) -> object | None:
        return ("read ahead", update["update_id"])

    async def handle_update(
        self,
        update: dict[str, Any],
        *,
        update_id: int,
        headers: Mapping[str, str],
        read_ahead: object | None = None,
    ) -> None:
        message = update["message"]
        chat, message_id, text = message["chat"]["id"], message["message_id"], message.get("text", "")
        self.attempts[update_id] += 1
        self.read_aheads[update_id].append(read_ahead)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._on_started:
                await self._on_started(chat, message_id, update_id)
            if text.startswith("sleep:"):
                await asyncio.sleep(int(text.split(":", 1)[1]) / 1000)
            elif self._delay is not None:
                await asyncio.sleep(self._delay())
            if text.startswith("fail"):
                raise RuntimeError(text.partition(":")[2] or "scripted failure")
            self.handled[chat].append(message_id)
            if self._on_handled:
                await self._on_handled(chat, message_id, update_id)
        finally:
            self.in_flight -= 1

    async def handle_event(self, event_type: str, payload: bytes, *, headers: Mapping[str, str]) -> None:
        if payload.startswith(b"fail"):
            raise RuntimeError("scripted event failure")
        self.events.append((event_type, payload, dict(headers)))


def order_violations(handled: Mapping[int, list[int]], *, allow_repeats: bool = False) -> dict[int, list[int]]:
    """Chats whose message ids did not run in increasing order. With `allow_repeats`, a message run again right
    after itself (at-least-once after a crash between handling and ack) is not a violation."""
    bad: dict[int, list[int]] = {}
    for chat, ids in handled.items():
        seq = [i for n, i in enumerate(ids) if not (allow_repeats and n and ids[n - 1] == i)]
        if any(b <= a for a, b in itertools.pairwise(seq)):
            bad[chat] = ids
    return bad
