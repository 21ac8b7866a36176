"""POST {WEBHOOK_PATH}: Telegram's delivery. 200 only after JetStream stored the update.

The hot path of the whole system, so it is a Litestar ASGI route handler: Litestar still routes the request
(and its middleware still wraps it), but the handler reads the body and writes the answer itself, without
per-request signature parsing and response serialisation. Measured in bench/: that framework work cost more
than the JetStream publish it fronts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from litestar import asgi
from litestar.handlers import ASGIRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from imagebot_gateway.intake import Outcome
from imagebot_gateway.routes.tracing import ServerSpan, record_status
from imagebot_gateway.state import GatewayState
from imagebot_gateway.stats import ACK_SECONDS
from imagebot_gateway.webhook_secret import secret_matches

SECRET_HEADER = b"x-telegram-bot-api-secret-token"
_OK = ACK_SECONDS.labels("200")
_UNAVAILABLE = ACK_SECONDS.labels("503")
_EMPTY_200 = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
_BODY_END = {"type": "http.response.body", "body": b"", "more_body": False}


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client hung up before its body had arrived: there is nobody left to answer."""


CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request its client abandoned: recorded on the span, never sent
# A refused body's rest is read and dropped before the 413, up to this much and this long.
DISCARD_BYTES = 16 * 1024 * 1024
DISCARD_SECONDS = 2.0


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _discard_rest(receive: Receive) -> None:
    """Read what is left of a refused body, so that its 413 reaches the client: a connection closed with unread
    bytes in it is answered by the kernel with a reset, which can destroy the answer before the client has read
    it (seen as a ReadError instead of the 413 in the size-limit tests; RFC 9112 §9.6, "lingering close").
    Bounded in bytes and time: past that the connection is closed anyway."""
    discarded = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DISCARD_SECONDS):
            while discarded < DISCARD_BYTES:
                message = await receive()
                if message["type"] == "http.disconnect" or not message.get("more_body", False):
                    return
                discarded += len(message.get("body", b""))


async def _send_json(send: Send, status: int, body: dict[str, object], extra: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def _answer(scope: Scope, receive: Receive, send: Send, gateway: GatewayState) -> int:
    """Handle one delivery; returns the status sent."""
    if scope["method"] != "POST":
        await _send_json(send, 405, {"detail": "use POST"}, [(b"allow", b"POST")])
        return 405
    presented = _header(scope, SECRET_HEADER)
    if not secret_matches(gateway.webhook_secret, presented.decode("latin-1") if presented is not None else None):
        gateway.stats.rejected()
        await _send_json(send, 401, {"detail": "missing or wrong X-Telegram-Bot-Api-Secret-Token"}, [])
        return 401
    try:
        body = await _read_body(receive, gateway.settings.max_body_bytes)
    except ClientGone:
        return CLIENT_CLOSED_REQUEST
    except BodyTooLarge:
        gateway.stats.rejected()
        await _discard_rest(receive)  # before the answer: uvicorn reads no body once a response is complete
        limit = gateway.settings.max_body_bytes
        await _send_json(send, 413, {"detail": f"body larger than {limit} bytes"}, [(b"connection", b"close")])
        return 413
    if not gateway.intake.fits(body):
        gateway.stats.rejected()
        detail = f"body of {len(body)} bytes does not fit a message of the NATS server (max_payload)"
        await _send_json(send, 413, {"detail": detail}, [])
        return 413
    gateway.stats.received()
    outcome = await gateway.intake.accept_raw(body)
    if outcome.acknowledged:
        await send(_EMPTY_200)
        await send(_BODY_END)
        return 200
    reason = "update queue is full" if outcome is Outcome.FULL else "update storage unavailable"
    retry_after = str(gateway.settings.retry_after_seconds).encode()
    await _send_json(send, 503, {"detail": f"{reason}; retry later"}, [(b"retry-after", retry_after)])
    return 503


class WebhookReceiver:
    """The ASGI callable that answers Telegram; Litestar routes to it, and so does the fast path below."""

    def __init__(self, path: str, gateway: GatewayState) -> None:
        self.path, self._gateway = path, gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        with ServerSpan(self.path) as span:
            status = await _answer(scope, receive, send, self._gateway)
            record_status(span, status)
        (_OK if status == 200 else _UNAVAILABLE).observe(time.perf_counter() - started)


def webhook_route(receiver: WebhookReceiver) -> ASGIRouteHandler:
    @asgi(receiver.path, name="telegram-webhook")
    async def receive_update(scope: Scope, receive: Receive, send: Send) -> None:
        await receiver(scope, receive, send)

    return receive_update


class WebhookFastPath:
    """ASGI app in front of Litestar: `POST {WEBHOOK_PATH}` goes straight to the receiver, everything else to
    Litestar. Litestar's router and middleware cost as much per update as the JetStream publish (bench/:
    ~100 µs of ~270 µs), and this one route needs neither; the receiver is the same object Litestar mounts."""

    def __init__(self, app: ASGIApp, receiver: WebhookReceiver) -> None:
        self._app, self._receiver, self._path = app, receiver, receiver.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self._path and scope["method"] == "POST":
            await self._receiver(scope, receive, send)
        else:
            await self._app(scope, receive, send)
