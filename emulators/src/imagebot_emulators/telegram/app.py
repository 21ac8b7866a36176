"""create_app: the Bot API and the control API on one aiohttp application."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from . import bot_api, control, control_inspect, page
from .config import EmulatorConfig
from .params import MAX_REQUEST_BYTES
from .state import Services
from .webhook import stop_delivery


def create_app(config: EmulatorConfig | None = None) -> web.Application:
    services = Services(config or EmulatorConfig())
    services.perform = functools.partial(bot_api.perform, services)
    app = web.Application(client_max_size=MAX_REQUEST_BYTES + 1024 * 1024)
    app[bot_api.SERVICES] = services
    bot_api.add_routes(app)
    control.add_routes(app)
    control_inspect.add_routes(app)
    page.add_routes(app)  # the chat page at / and its event streams
    app.cleanup_ctx.append(_outbound_client)
    return app


async def _outbound_client(app: web.Application) -> AsyncIterator[None]:
    """One client for webhook deliveries and photo downloads; the emulator limits concurrency itself."""
    services = app[bot_api.SERVICES]
    services.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    yield
    for bot in list(services.registry.bots.values()):
        await stop_delivery(bot)
    await services.http.close()
