"""Client-side rate limits that match Kie's own: N calls in any window of W seconds.

Kie counts "20 new generation requests per 10 seconds" as a sliding window, and aiolimiter's leaky bucket
would let up to twice that through in one window, so this is a small sliding-window limiter instead.
Waiters are served in arrival order (asyncio.Lock is FIFO).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class SlidingWindowLimiter:
    def __init__(self, limit: int, window: float, *, margin: float = 0.02) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        # A little slack: our clock starts before the request travels, Kie's when it arrives.
        self.window = window * (1 + margin)
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._sent[0] + self.window - now)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        return None
