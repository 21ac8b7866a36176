"""The gateway's Litestar application, built from settings and already-connected clients."""

from __future__ import annotations

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from imagebot_gateway.routes.health import health_routes
from imagebot_gateway.routes.kie_callbacks import kie_callback_route
from imagebot_gateway.routes.webhook import webhook_route
from imagebot_gateway.state import GatewayState


def _http_error(request: Request, exc: HTTPException) -> Response[dict[str, object]]:
    """Every 4xx says why, in one shape (Litestar's own errors: 404, 405, 413...)."""
    if exc.status_code == 413:
        request.app.state.gateway.stats.rejected()
    return Response({"status_code": exc.status_code, "detail": exc.detail}, status_code=exc.status_code)


def create_app(gateway: GatewayState) -> Litestar:
    settings = gateway.settings
    return Litestar(
        route_handlers=[
            webhook_route(settings.webhook_path),
            kie_callback_route(settings.kie_callback_path),
            *health_routes,
        ],
        state=State({"gateway": gateway}),
        request_max_body_size=settings.max_body_bytes,
        exception_handlers={HTTPException: _http_error},
        logging_config=None,  # logging is set up once by imagebot_common.logs
        debug=False,
    )
