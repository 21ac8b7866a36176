"""Many emulated users talking to the bot at once, and what the bot answered them (read from the emulator).

`SteadyStarts` plays an open loop: every user sends `/start` once per period, whatever the bot does, so a
fault in the middle meets a constant load. `BotAnswers` reads the bot's successful `sendMessage` calls
incrementally (by request seq), so checking a thousand answers costs a few requests, not a thousand.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

START = "/start"


class UsersClient:
    """The emulator's control API for one bot, over one pooled HTTP client (cheap at hundreds of calls/s)."""

    def __init__(self, telegram_url: str, token: str) -> None:
        self.base = f"{telegram_url}/control/bots/{token}"
        self.http = httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=50))

    async def send_text(self, user_id: int, text: str, **fields: Any) -> dict[str, Any]:
        response = await self.http.post(f"{self.base}/users/{user_id}/messages", json={"text": text, **fields})
        response.raise_for_status()
        return response.json()

    async def requests(self, method: str, since: int = 0) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.base}/requests", params={"method": method, "since": since})
        response.raise_for_status()
        return response.json()

    async def webhook(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.base}/webhook")
        response.raise_for_status()
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass
class SentUpdate:
    user: int
    update_id: int
    at: float


@dataclass
class SteadyStarts:
    """Each user sends /start every `period` seconds (users staggered evenly) until `stop()` or `duration`."""

    client: UsersClient
    users: list[int]
    period: float = 1.0
    duration: float = 20.0
    sent: list[SentUpdate] = field(default_factory=list)
    errors: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> SteadyStarts:
        self._task = asyncio.create_task(self._run())
        return self

    def stop(self) -> None:
        self._stop.set()

    async def wait(self) -> None:
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        began = time.monotonic()
        await asyncio.gather(*(self._user(i, user, began) for i, user in enumerate(self.users)))

    async def _user(self, index: int, user: int, began: float) -> None:
        tick = began + self.period * index / len(self.users)
        while not self._stop.is_set() and tick - began < self.duration:
            delay = tick - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                    return
                except TimeoutError:
                    pass
            try:
                answer = await self.client.send_text(user, START, first_name=f"U{user}", language_code="en")
                self.sent.append(SentUpdate(user, int(answer["update_id"]), time.time()))
            except httpx.HTTPError:
                self.errors += 1  # the emulator itself is not under test; counted and reported
            tick += self.period

    def sends_per_user(self) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for item in self.sent:
            counts[item.user] += 1
        return dict(counts)


class BotAnswers:
    """The bot's successful sendMessage calls per chat, with the time the emulator got each one."""

    def __init__(self, client: UsersClient) -> None:
        self.client = client
        self.cursor = 0
        self.times: dict[int, list[float]] = defaultdict(list)

    async def refresh(self) -> dict[int, list[float]]:
        for entry in await self.client.requests("sendMessage", since=self.cursor):
            self.cursor = max(self.cursor, entry["seq"])
            if entry.get("ok"):
                self.times[int(entry["params"]["chat_id"])].append(entry["time"])
        return self.times

    def count(self, chat: int) -> int:
        return len(self.times.get(chat, []))


def missing_and_extra(sends: dict[int, int], answers: BotAnswers) -> tuple[dict[int, int], dict[int, int]]:
    """Per user: answers still missing (sent - answered > 0) and answers beyond one per /start."""
    missing = {u: n - answers.count(u) for u, n in sends.items() if answers.count(u) < n}
    extra = {u: answers.count(u) - n for u, n in sends.items() if answers.count(u) > n}
    return missing, extra
