"""The gateway's Litestar application, built from settings and already-connected clients."""

from __future__ import annotations

import logging

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from imagebot_gateway.routes.health import health_routes
from imagebot_gateway.routes.kie_callbacks import kie_callback_route
from imagebot_gateway.routes.webhook import WebhookFastPath, WebhookReceiver, webhook_route
from imagebot_gateway.routes.webhook_openapi import document_webhook
from imagebot_gateway.state import GatewayState

log = logging.getLogger("imagebot.gateway")


def _http_error(request: Request, exc: HTTPException) -> Response[dict[str, object]]:
    """Every 4xx says why, in one shape (Litestar's own errors: 404, 405, 413...)."""
    if exc.status_code == 413:
        request.app.state.gateway.stats.rejected()
    return Response({"status_code": exc.status_code, "detail": exc.detail}, status_code=exc.status_code)


def _unexpected(request: Request, exc: Exception) -> Response[dict[str, object]]:
    """A bug, not a caller's mistake: logged with its traceback (redacted), answered 500 without details."""
    log.exception("unhandled error in %s %s", request.method, request.scope.get("route_handler", request.url.path))
    return Response({"status_code": 500, "detail": "internal error"}, status_code=500)


def create_app(gateway: GatewayState) -> WebhookFastPath:
    """The Litestar app, behind the webhook's fast path (see routes/webhook.py)."""
    settings = gateway.settings
    receiver = WebhookReceiver(settings.webhook_path, gateway)
    litestar = Litestar(
        route_handlers=[
            webhook_route(receiver),
            kie_callback_route(settings.kie_callback_path),
            *health_routes,
        ],
        state=State({"gateway": gateway}),
        request_max_body_size=settings.max_body_bytes,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        logging_config=None,  # logging is set up once by imagebot_common.logs
        debug=False,
    )
    document_webhook(litestar, settings.webhook_path, settings.max_body_bytes)
    return WebhookFastPath(litestar, receiver)
