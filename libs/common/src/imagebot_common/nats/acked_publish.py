"""JetStream publish that waits for the PubAck: nats-py's `js.publish`, with less work per message.

It is the gateway's hot path: every update Telegram delivers is answered only after its PubAck. nats-py's
`js.publish` goes through `nc.request`, which per message draws a NUID and two random bytes from the OS
(`os.urandom`, a system call), wraps the reply future in `asyncio.wait_for`, and decodes the ack with the
standard json module into a dataclass. Here one inbox subscription (`<inbox>.*`, made on first use; nats-py
restores it after a reconnect) takes every ack, a reply subject ends in a counter, the deadline is one timer
handle, and msgspec decodes the ack. What a caller sees is unchanged: a nats-py `PubAck`, or the exceptions
`js.publish` raises (`APIError` with the server's err_code, `NoStreamResponseError`, nats-py's `TimeoutError`,
connection errors from `nc.publish`). Measured at 4,000 updates/s (4 interleaved runs, median): with it and
the lighter spans of the same change, the gateway used 211 µs of CPU per update against 243 before, and the
yardstick (a plain aiohttp handler awaiting js.publish) 225.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import Header, PubAck
from nats.js.errors import APIError, NoStreamResponseError

NO_RESPONDERS = "503"  # the status nats-server answers a request with when no stream takes the subject


class _AckReply(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    domain: str | None = None
    error: dict[str, Any] | None = None


_decode_ack = msgspec.json.Decoder(_AckReply).decode


class AckedPublisher:
    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count(1)
        self._prefix = ""
        self._subscription: Subscription | None = None
        self._subscribing = asyncio.Lock()

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> PubAck:
        """Publish and wait (at most `timeout` s, default 5) for the stream's acknowledgement."""
        if self._subscription is None:
            await self._subscribe()
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        self._waiting[token] = future
        deadline = loop.call_later(timeout or 5.0, _expire, future)
        if stream is not None:
            headers = {**(headers or {}), Header.EXPECTED_STREAM: stream}
        try:
            await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
            reply = await future
        finally:
            deadline.cancel()
            del self._waiting[token]
        return _pub_ack(reply)

    async def _subscribe(self) -> None:
        async with self._subscribing:
            if self._subscription is None:
                prefix = self._nc.new_inbox() + "."
                self._subscription = await self._nc.subscribe(prefix + "*", cb=self._on_reply)
                self._prefix = prefix

    async def _on_reply(self, msg: Msg) -> None:
        future = self._waiting.get(msg.subject[len(self._prefix) :])
        if future is not None and not future.done():  # a reply after its deadline finds nobody waiting
            future.set_result(msg)


def _expire(future: asyncio.Future[Msg]) -> None:
    if not future.done():
        future.set_exception(NatsTimeoutError())


def _pub_ack(reply: Msg) -> PubAck:
    if not reply.data:
        if reply.headers and reply.headers.get(Header.STATUS) == NO_RESPONDERS:
            raise NoStreamResponseError
        raise APIError(description=f"empty reply to a publish (headers {reply.headers})")
    try:
        ack = _decode_ack(reply.data)
    except msgspec.DecodeError as exc:
        raise APIError(description=f"unreadable reply to a publish: {exc}") from exc
    if ack.error is not None:
        raise APIError.from_error(ack.error)  # from_error raises the error's own class itself, as in nats-py
    return PubAck(stream=ack.stream, seq=ack.seq, domain=ack.domain, duplicate=ack.duplicate)
