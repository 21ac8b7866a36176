"""The few Bot API calls the gateway makes, on raw JSON so polled updates are published exactly as received.

The dispatcher talks to Telegram through aiogram; the gateway only manages the webhook and polls, and must
not re-serialise updates through models (a field aiogram does not know yet would be lost).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from imagebot_common.redaction import redactor


class TelegramApiError(Exception):
    """Telegram answered ok=false (or not JSON). `retry_after` is set for flood control (429)."""

    def __init__(self, method: str, error_code: int, description: str, retry_after: float | None = None):
        self.method, self.error_code, self.retry_after = method, error_code, retry_after
        self.description = redactor.redact(description)
        super().__init__(f"{method}: {error_code} {self.description}")


class TelegramUnreachable(Exception):
    """The Bot API server could not be reached (network error or timeout); the message names no URL."""

    def __init__(self, method: str, cause: BaseException):
        super().__init__(f"{method}: Bot API unreachable ({type(cause).__name__})")


class BotApi:
    def __init__(self, session: aiohttp.ClientSession, api_url: str, token: str, *, timeout: float = 30.0):
        self._session = session
        self._base = f"{api_url.rstrip('/')}/bot{token}"
        self._timeout = timeout

    async def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        # The URL holds the token: never let aiohttp's exception text (which may quote it) escape.
        try:
            async with self._session.post(
                f"{self._base}/{method}",
                json=params or {},
                timeout=aiohttp.ClientTimeout(total=timeout or self._timeout),
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TelegramUnreachable(method, exc) from None
        try:
            body = json.loads(raw)
        except ValueError:
            raise TelegramApiError(method, status, f"non-JSON answer (HTTP {status})") from None
        if not isinstance(body, dict) or not body.get("ok"):
            body = body if isinstance(body, dict) else {}
            retry_after = (body.get("parameters") or {}).get("retry_after")
            raise TelegramApiError(
                method, int(body.get("error_code") or status), str(body.get("description")), retry_after
            )
        return body.get("result")

    async def get_webhook_info(self) -> dict[str, Any]:
        return await self.call("getWebhookInfo")

    async def set_webhook(self, url: str, *, secret_token: str, allowed_updates: list[str], max_connections: int,
                          drop_pending_updates: bool = False) -> bool:  # fmt: skip
        params = {
            "url": url,
            "secret_token": secret_token,
            "allowed_updates": allowed_updates,
            "max_connections": max_connections,
            "drop_pending_updates": drop_pending_updates,
        }
        return await self.call("setWebhook", params)

    async def delete_webhook(self, *, drop_pending_updates: bool = False) -> bool:
        return await self.call("deleteWebhook", {"drop_pending_updates": drop_pending_updates})

    async def get_updates(
        self, *, offset: int | None, timeout: int, limit: int, allowed_updates: list[str]
    ) -> list[Any]:
        params: dict[str, Any] = {"timeout": timeout, "limit": limit, "allowed_updates": allowed_updates}
        if offset is not None:
            params["offset"] = offset
        # The HTTP timeout must outlast the long poll.
        return await self.call("getUpdates", params, timeout=timeout + 10)
