"""The Telegram emulator as the e2e benchmark uses it: started per design, chats made known, sends read back."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench import procs, updates


@dataclass
class TelegramEmulator:
    proc: procs.Proc
    port: int
    last_seq: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def control(self) -> str:
        return f"{self.url}/control/bots/{updates.BOT_TOKEN}"

    def register_chats(self, chat_ids: range) -> None:
        """A bot may only write to chats that wrote to it: each chat sends one message first (queued, unread)."""

        async def post_all() -> None:
            limit = asyncio.Semaphore(32)
            async with aiohttp.ClientSession() as session:

                async def post(chat_id: int) -> None:
                    update = json.loads(updates.message_update(10_000_000_000 + chat_id, chat_id, "hello"))
                    async with limit, session.post(f"{self.control}/updates", json=update) as response:
                        response.raise_for_status()

                await asyncio.gather(*(post(c) for c in chat_ids))

        asyncio.run(post_all())

    def settle(self) -> None:
        """Before a timed run: what earlier runs left in the emulator is frozen out of its garbage collector."""
        request = urllib.request.Request(f"{self.url}/control/settle", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def new_sends(self) -> list[dict[str, Any]]:
        """sendMessage calls recorded since the previous read: [{"seq", "time", "params": {"chat_id"...}}...]."""
        url = f"{self.control}/requests?method=sendMessage&since={self.last_seq}"
        with urllib.request.urlopen(url, timeout=30) as response:
            records = json.load(response)
        if records:
            self.last_seq = max(r["seq"] for r in records)
        return records

    def stop(self) -> None:
        self.proc.stop()


def start_telegram_emulator(name: str) -> TelegramEmulator:
    port = procs.free_port()
    args = ["--port", str(port), "--log-level", "WARNING"]
    proc = procs.python_module(name, "imagebot_emulators.telegram", args, procs.clean_env(), cores=procs.LOAD_CORE)
    procs.wait_http_ok(proc, f"http://127.0.0.1:{port}/control/health")
    return TelegramEmulator(proc, port)
