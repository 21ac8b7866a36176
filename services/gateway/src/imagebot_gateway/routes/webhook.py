"""POST {WEBHOOK_PATH}: Telegram's delivery. 200 only after JetStream stored the update."""

from __future__ import annotations

import time

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from imagebot_gateway.intake import Outcome
from imagebot_gateway.routes.tracing import record_status, server_span
from imagebot_gateway.state import GatewayState
from imagebot_gateway.stats import ACK_SECONDS
from imagebot_gateway.webhook_secret import secret_matches

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
_OK = ACK_SECONDS.labels("200")
_UNAVAILABLE = ACK_SECONDS.labels("503")


async def _answer(request: Request, gateway: GatewayState) -> Response[bytes]:
    if not secret_matches(gateway.webhook_secret, request.headers.get(SECRET_HEADER)):
        gateway.stats.rejected()
        return Response({"detail": "missing or wrong X-Telegram-Bot-Api-Secret-Token"}, status_code=401)
    gateway.stats.received()
    outcome = await gateway.intake.accept_raw(await request.body())
    if outcome.acknowledged:
        return Response(b"", status_code=200)
    reason = "update queue is full" if outcome is Outcome.FULL else "update storage unavailable"
    return Response(
        {"detail": f"{reason}; retry later"},
        status_code=503,
        headers={"Retry-After": str(gateway.settings.retry_after_seconds)},
    )


def webhook_route(path: str) -> HTTPRouteHandler:
    @post(path, name="telegram-webhook", summary="Telegram webhook delivery")
    async def receive_update(request: Request) -> Response[bytes]:
        started = time.perf_counter()
        with server_span(path) as span:
            response = await _answer(request, request.app.state.gateway)
            record_status(span, response.status_code)
        (_OK if response.status_code == 200 else _UNAVAILABLE).observe(time.perf_counter() - started)
        return response

    return receive_update
