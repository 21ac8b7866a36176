"""A fast webhook client: many keep-alive connections posting updates as fast as the gateway takes them."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class FloodResult:
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: list[int] = field(default_factory=list)  # update ids answered 200
    refused: list[int] = field(default_factory=list)  # update ids answered 503
    retry_after_missing: int = 0  # 503s without a Retry-After header
    connection_errors: int = 0
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + self.connection_errors

    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


async def flood(
    url: str, updates: Sequence[dict[str, Any]], headers: dict[str, str], *, connections: int = 64
) -> FloodResult:
    """POST every update once (no retries: what a 503 refused stays refused), `connections` at a time."""
    result = FloodResult()
    bodies = [json.dumps(update).encode() for update in updates]  # encoded up front: measure the gateway
    next_index = 0
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    all_headers = {"Content-Type": "application/json", **headers}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < len(bodies):
            index = next_index
            next_index += 1
            update_id = updates[index]["update_id"]
            try:
                async with session.post(url, data=bodies[index], headers=all_headers) as response:
                    await response.read()
                    result.statuses[response.status] += 1
                    if response.status == 200:
                        result.acknowledged.append(update_id)
                    elif response.status == 503:
                        result.refused.append(update_id)
                        if not response.headers.get("Retry-After"):
                            result.retry_after_missing += 1
            except (aiohttp.ClientError, TimeoutError):
                result.connection_errors += 1

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    result.seconds = time.monotonic() - started
    return result
