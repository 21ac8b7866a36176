"""The emulators of Telegram and Kie.ai as real processes, with small clients for their control APIs."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.ports import free_port
from tests.support.processes import ServiceProcess


class TelegramEmulator(ServiceProcess):
    """`python -m imagebot_emulators.telegram` on a free port, retrying webhook deliveries quickly."""

    def __init__(self, *extra_args: str):
        self.port = free_port()
        args = ["--port", str(self.port), "--retry-base-delay", "0.1", "--retry-max-delay", "1", *extra_args]
        super().__init__("imagebot_emulators.telegram", {}, args=args, name="telegram-emulator")
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> TelegramEmulator:
        super().start()
        self.wait_http_ok(f"{self.url}/control/health")
        return self

    def control(self, token: str) -> TelegramControl:
        return TelegramControl(self.url, token)


class TelegramControl:
    """Acts as the users of one bot and reads what the bot did."""

    def __init__(self, url: str, token: str):
        self._base = f"{url}/control/bots/{token}"

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.request(method, f"{self._base}{path}", **kwargs)
            response.raise_for_status()
            return response.json()

    async def send_text(self, user_id: int, text: str, **fields: Any) -> dict[str, Any]:
        return await self._request("POST", f"/users/{user_id}/messages", json={"text": text, **fields})

    async def press(self, user_id: int, message_id: int, data: str, **fields: Any) -> dict[str, Any]:
        body = {"message_id": message_id, "data": data, **fields}
        return await self._request("POST", f"/users/{user_id}/callbacks", json=body)

    async def inject_update(self, update: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", "/updates", json=update)

    async def transcript(self, chat_id: int) -> list[dict[str, Any]]:
        return await self._request("GET", f"/chats/{chat_id}/messages")

    async def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        return await self._request("GET", "/requests", params={"method": method} if method else None)

    async def webhook(self) -> dict[str, Any]:
        return await self._request("GET", "/webhook")

    async def fault(self, method: str, status: int | str, count: int = 1, **fields: Any) -> None:
        await self._request("POST", "/faults", json={"method": method, "status": status, "count": count, **fields})
