"""Request/reply over one inbox subscription: nats-py's `nc.request`, with less work per request.

`nc.request` draws a NUID and two random bytes from the OS (`os.urandom`, a system call) for every request and
wraps the wait in `asyncio.wait_for`. Here one subscription (`<inbox>.*`, made on first use; nats-py restores it
after a reconnect) takes every reply, a reply subject ends in a counter, and the deadline is one timer handle.
The gateway's PubAck waits and the dispatcher's KV reads go through it (bench: ~55 µs less CPU per direct KV
read, ~100 µs per leader read with its JSON, measured one at a time). A reply after its deadline finds nobody
waiting and is dropped.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import TypeVar

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError

T = TypeVar("T")
NO_RESPONDERS = "503"  # the status nats-server answers with when nothing serves the subject


class RequestMux:
    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count(1)
        self._prefix = ""
        self._subscription: Subscription | None = None
        self._subscribing = asyncio.Lock()

    @property
    def waiting(self) -> int:
        """Requests whose reply has not come yet."""
        return len(self._waiting)

    async def request(
        self, subject: str, payload: bytes = b"", *, headers: dict[str, str] | None = None, timeout: float
    ) -> Msg:
        """The reply, or nats-py's TimeoutError after `timeout` seconds; errors of `nc.publish` pass through."""
        if self._subscription is None:
            await self._subscribe()
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        self._waiting[token] = future
        deadline = loop.call_later(timeout, _expire, future)
        try:
            await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
            return await future
        finally:
            deadline.cancel()
            del self._waiting[token]

    async def _subscribe(self) -> None:
        async with self._subscribing:
            if self._subscription is None:
                prefix = self._nc.new_inbox() + "."
                self._subscription = await self._nc.subscribe(prefix + "*", cb=self._on_reply)
                self._prefix = prefix

    async def _on_reply(self, msg: Msg) -> None:
        future = self._waiting.get(msg.subject[len(self._prefix) :])
        if future is not None and not future.done():
            future.set_result(msg)


def _expire(future: asyncio.Future[Msg]) -> None:
    if not future.done():
        future.set_exception(NatsTimeoutError())


def decode_json_reply(reply: Msg, decode: Callable[[bytes], T], what: str, *, no_responders: type[Exception]) -> T:
    """A JetStream API answer, decoded. An empty reply with status 503 (nothing serves the subject: no such
    stream, or no JetStream) raises `no_responders`; any other empty or unreadable one raises APIError."""
    if not reply.data:
        if (reply.headers or {}).get("Status") == NO_RESPONDERS:
            raise no_responders
        raise APIError(description=f"empty reply to {what} (headers {reply.headers})")
    try:
        return decode(reply.data)
    except msgspec.DecodeError as exc:
        raise APIError(description=f"unreadable reply to {what}: {exc}") from exc
