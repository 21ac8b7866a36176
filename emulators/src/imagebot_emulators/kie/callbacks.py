"""Callbacks to `callBackUrl` in the Market shape (research/kie.md §1.4), HMAC-signed when a key is configured."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import aiohttp

log = logging.getLogger("kie_emulator.callbacks")

SUCCESS_MSG = "Playground task completed successfully."
FAIL_MSG = "Playground task failed."


def signature(hmac_key: str, task_id: str, timestamp: str) -> str:
    """base64(HMAC-SHA256(key, taskId + "." + timestamp)), as Kie's webhook verification doc specifies."""
    digest = hmac.new(hmac_key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def callback_body(record: dict[str, Any]) -> dict[str, Any]:
    success = record["state"] == "success"
    data = dict(record)
    if success:
        data["failCode"], data["failMsg"] = None, None
    else:
        data["resultJson"] = None
    return {"code": 200 if success else 501, "msg": SUCCESS_MSG if success else FAIL_MSG, "data": data}


class CallbackSender:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def send_later(
        self, url: str, record: dict[str, Any], *, hmac_key: str, delay: float, retries: int, sink: Any
    ) -> None:
        task = asyncio.create_task(self._send(url, record, hmac_key, delay, retries, sink))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self, url: str, record: dict[str, Any], hmac_key: str, delay: float, retries: int, sink: Any
    ) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        body = callback_body(record)
        payload = json.dumps(body, ensure_ascii=False)
        for attempt in range(1 + max(0, retries)):
            headers = {"Content-Type": "application/json"}
            if hmac_key:
                timestamp = str(int(time.time()))
                headers["X-Webhook-Timestamp"] = timestamp
                headers["X-Webhook-Signature"] = signature(hmac_key, record["taskId"], timestamp)
            status: int | None = None
            error = ""
            try:
                assert self._session is not None
                async with self._session.post(url, data=payload, headers=headers) as response:
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            sink(
                {
                    "task_id": record["taskId"],
                    "url": url,
                    "attempt": attempt + 1,
                    "status": status,
                    "error": error,
                    "headers": headers,
                    "body": body,
                }
            )
            if status is not None and 200 <= status < 300:
                return
            await asyncio.sleep(1.0)
        log.info("callback for %s not accepted after %d attempts", record["taskId"], retries + 1)
