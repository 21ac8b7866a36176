"""What the engine needs from the conversation (implemented by conversation/service.py's Conversation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class ConversationPort(Protocol):
    async def start(self) -> None: ...

    async def handle_update(self, update: dict, *, update_id: int, headers: Mapping[str, str]) -> None:
        """Feed one Telegram update to aiogram; raising means it failed (it is retried, then dead-lettered)."""

    async def handle_event(self, event_type: str, payload: bytes, *, headers: Mapping[str, str]) -> None:
        """Handle one per-chat event, e.g. `image_result.v1`; raising means it failed."""

    async def close(self) -> None: ...
