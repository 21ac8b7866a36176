"""JetStream publish that waits for the PubAck: nats-py's `js.publish`, with less work per message.

It is the gateway's hot path: every update Telegram delivers is answered only after its PubAck. nats-py's
`js.publish` goes through `nc.request` (a NUID, `os.urandom` and `asyncio.wait_for` per message) and decodes the
ack with the standard json module into a dataclass; here the request goes through RequestMux (requests.py) and
msgspec decodes the ack. What a caller sees is unchanged: a nats-py `PubAck`, or the exceptions `js.publish`
raises (`APIError` with the server's err_code, `NoStreamResponseError`, nats-py's `TimeoutError`, connection
errors from `nc.publish`). Measured at 4,000 updates/s (4 interleaved runs, median): with it and the lighter
spans of the same change, the gateway used 211 µs of CPU per update against 243 before, and the yardstick (a
plain aiohttp handler awaiting js.publish) 225.
"""

from __future__ import annotations

from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import Header, PubAck
from nats.js.errors import APIError, NoStreamResponseError

from imagebot_common.nats.requests import RequestMux, decode_json_reply


class _AckReply(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    domain: str | None = None
    error: dict[str, Any] | None = None


_decode_ack = msgspec.json.Decoder(_AckReply).decode


class AckedPublisher:
    def __init__(self, nc: Client) -> None:
        self._requests = RequestMux(nc)

    @property
    def waiting(self) -> int:
        """Publishes whose ack has not come yet."""
        return self._requests.waiting

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> PubAck:
        """Publish and wait (at most `timeout` s, default 5) for the stream's acknowledgement."""
        if stream is not None:
            headers = {**(headers or {}), Header.EXPECTED_STREAM: stream}
        reply = await self._requests.request(subject, payload, headers=headers, timeout=timeout or 5.0)
        return _pub_ack(reply)


def _pub_ack(reply: Msg) -> PubAck:
    ack = decode_json_reply(reply, _decode_ack, "a publish", no_responders=NoStreamResponseError)
    if ack.error is not None:
        raise APIError.from_error(ack.error)  # from_error raises the error's own class itself, as in nats-py
    return PubAck(stream=ack.stream, seq=ack.seq, domain=ack.domain, duplicate=ack.duplicate)
