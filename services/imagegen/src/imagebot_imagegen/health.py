"""What /readyz and /health report: NATS and streams, jobs, results, and the Kie.ai balance (cached)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from imagebot_common.redaction import mask_url
from imagebot_imagegen.kie.client import KieClient
from imagebot_imagegen.kie.errors import KieError
from imagebot_imagegen.stats import Stats

log = logging.getLogger("imagebot.imagegen.health")


class CreditCache:
    """The balance from GET /api/v1/chat/credit, refreshed at most every `ttl` seconds (None when unknown)."""

    def __init__(self, client: KieClient, ttl: float) -> None:
        self._client, self._ttl = client, ttl
        self._value: float | None = None
        self._error: str | None = None
        self._at = float("-inf")

    async def get(self) -> dict[str, Any]:
        if time.monotonic() - self._at >= self._ttl:
            self._at = time.monotonic()
            try:
                self._value, self._error = await self._client.credit(), None
            except KieError as exc:
                self._error = f"{type(exc).__name__} {exc.code}"
        return {"credits": self._value, "credits_error": self._error}


class ImagegenHealth:
    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        stats: Stats,
        credits: CreditCache,
        *,
        kie_url: str,
        callback_url: str | None,
        loops_alive: Callable[[], bool],
    ) -> None:
        self._nc, self._js, self._stats, self._credits = nc, js, stats, credits
        self._kie_url, self._callback_url = mask_url(kie_url), callback_url
        self._loops_alive = loops_alive

    def is_alive(self) -> bool:
        return self._loops_alive()

    async def is_ready(self) -> bool:
        if not self._nc.is_connected or not self._loops_alive():
            return False
        try:
            await self._js.stream_info(subjects.IMAGE_JOBS_STREAM)
            await self._js.stream_info(subjects.KIE_CALLBACKS_STREAM)
        except Exception:  # any failure means "not ready"
            return False
        return True

    async def details(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "nats_connected": self._nc.is_connected,
            "kie_api_url": self._kie_url,
            "callback_mode": "on" if self._callback_url else "off (polling only)",
            "callback_url": mask_url(self._callback_url) if self._callback_url else None,
        }
        body.update(self._stats.as_dict())
        body.update(await self._credits.get())
        return body
