"""The test's side of the chat: a bot talking to the emulator through the real Bot API (sync httpx)."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
from PIL import Image, ImageDraw


class BotApiClient:
    """Calls /bot<token>/<method> like any bot library would, and reads updates with getUpdates."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.offset = 0
        self._http = httpx.Client(base_url=f"{url}/bot{token}", timeout=15)

    def call(self, method: str, **params: Any) -> Any:
        body = self._http.post(f"/{method}", json=params).json()
        assert body["ok"], f"{method} failed: {body}"
        return body["result"]

    def send_photo(self, chat_id: int, png: bytes, **params: Any) -> dict[str, Any]:
        fields = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in params.items()}
        response = self._http.post(
            "/sendPhoto", data={"chat_id": str(chat_id), **fields}, files={"photo": ("picture.png", png, "image/png")}
        )
        body = response.json()
        assert body["ok"], f"sendPhoto failed: {body}"
        return body["result"]

    def next_update(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next update the users caused (long polls, so no guessing how long a click takes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            updates = self.call("getUpdates", offset=self.offset, limit=1, timeout=1)
            if updates:
                self.offset = updates[0]["update_id"] + 1
                return updates[0]
        raise AssertionError(f"no update within {timeout}s")

    def patch_bot(self, **fields: Any) -> None:
        httpx.patch(f"{self.url}/control/bots/{self.token}", json=fields).raise_for_status()

    def close(self) -> None:
        self._http.close()


def draw_png(width: int = 640, height: int = 480) -> bytes:
    """A small picture with something recognisable on it: a sun on a blue sky."""
    image = Image.new("RGB", (width, height), (80, 140, 220))
    radius = min(width, height) // 4
    box = (width // 2 - radius, height // 2 - radius, width // 2 + radius, height // 2 + radius)
    ImageDraw.Draw(image).ellipse(box, fill=(250, 210, 60))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
