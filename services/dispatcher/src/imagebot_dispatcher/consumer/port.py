"""What the engine needs from the conversation (implemented by conversation/service.py's Conversation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class ConversationPort(Protocol):
    async def start(self) -> None: ...

    async def read_ahead(self, update: dict) -> object | None:
        """What the update's handling will read, read now: the engine runs this beside its own "handled
        already?" check, so both server round trips cost the wait of one. Must not raise; its result goes to the
        first `handle_update` of this update (never to a retry, nor to a duplicate's)."""

    async def handle_update(
        self, update: dict, *, update_id: int, headers: Mapping[str, str], read_ahead: object | None = None
    ) -> None:
        """Feed one Telegram update to aiogram; raising means it failed (it is retried, then dead-lettered)."""

    async def handle_event(self, event_type: str, payload: bytes, *, headers: Mapping[str, str]) -> None:
        """Handle one per-chat event, e.g. `image_result.v1`; raising means it failed."""

    async def close(self) -> None: ...
