"""Messages to one inbox (`<prefix>.*`), read one at a time with a deadline: `sub.next_msg`, made cheap.

nats-py's `next_msg(timeout)` starts two tasks per message (its own, and `asyncio.wait_for`'s around the queue
read) and draws a uuid4 from the OS to name the first. The dispatcher reads every update it handles that way,
as its partition pulls stream in. Here the subscription's callback puts each message on a queue of ours, and
a read is one `queue.get()` under `asyncio.timeout`: no task, no system call. What a reader sees is unchanged:
the built-in TimeoutError when nothing came in time, and ConnectionClosedError once the client is closed.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError


class Inbox:
    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._arrived: asyncio.Queue[Msg] = asyncio.Queue()
        self._subscription: Subscription | None = None
        self.prefix = nc.new_inbox()

    async def open(self) -> None:
        self._subscription = await self._nc.subscribe(f"{self.prefix}.*", cb=self._on_message)

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    def reply_subject(self, token: str | int) -> str:
        return f"{self.prefix}.{token}"

    async def next_message(self, timeout: float) -> Msg:
        """The next message (in arrival order), waiting at most `timeout` seconds."""
        if self._nc.is_closed:
            raise ConnectionClosedError
        if not self._arrived.empty():
            return self._arrived.get_nowait()
        try:
            async with asyncio.timeout(timeout):
                return await self._arrived.get()
        except TimeoutError:
            if self._nc.is_closed:
                raise ConnectionClosedError from None
            raise

    async def _on_message(self, msg: Msg) -> None:
        self._arrived.put_nowait(msg)
