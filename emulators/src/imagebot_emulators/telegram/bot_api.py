"""The Bot API endpoints: /bot<token>/<method> and /file/bot<token>/<path>, as api.telegram.org has them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from . import methods_bot, methods_edit, methods_send, methods_webhook, polling
from .calls import Call, Handler
from .errors import ApiError, MethodResult
from .faults import Fault
from .params import Params, read_params
from .state import BotState, Services

SERVICES = web.AppKey("services", Services)
# Method names are case-insensitive on Telegram; the table maps lowercase → (canonical name, handler).
METHODS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler)
    for module in (methods_bot, methods_send, methods_edit, methods_webhook, polling)
    for name, handler in module.HANDLERS.items()
}
UNAUTHORIZED = ApiError(401, "Unauthorized")


def canonical(method: str) -> str:
    entry = METHODS.get(method.lower())
    return entry[0] if entry else method


async def _run(
    services: Services, bot: BotState, method: str, params: Params, via: str = "http"
) -> tuple[web.Response, dict[str, Any]]:
    """Run one method and record the call with the status it got."""
    entry = METHODS.get(method.lower())
    record = bot.record(canonical(method), params.summary(), via)
    started = time.monotonic()
    try:
        if entry is None:
            raise ApiError(404, "Not Found: method not found")
        result = await entry[1](Call(services, bot, params))
        body = result if isinstance(result, MethodResult) else MethodResult(result)
        response = web.json_response(body.body())
        record.update(ok=True, description=body.description)
    except ApiError as exc:
        response = exc.response()
        record.update(ok=False, description=exc.description)
    record.update(status=response.status, duration=time.monotonic() - started)
    return response, record


async def perform(services: Services, bot: BotState, method: str, params: Params, via: str = "http") -> web.Response:
    response, _ = await _run(services, bot, method, params, via)
    return response


async def _inject(request: web.Request, bot: BotState, method: str, params: Params, fault: Fault) -> web.Response:
    services = request.app[SERVICES]
    if isinstance(fault.status, int):
        retry_after = fault.retry_after if fault.status == 429 else None
        error = ApiError(fault.status, fault.error_description(), retry_after=retry_after)
        record = bot.record(canonical(method), params.summary())
        record.update(ok=False, status=fault.status, description=error.description, fault=True, duration=0.0)
        return error.response()
    if fault.execute:
        response, record = await _run(services, bot, method, params)
        record.update(answer_status=record["status"], status=fault.status, fault=True, executed=True)
    else:
        response = web.Response(status=504)
        record = bot.record(canonical(method), params.summary())
        record.update(ok=False, status=fault.status, fault=True, executed=False)
    if fault.status == "timeout":
        await asyncio.sleep(fault.delay if fault.delay is not None else services.config.fault_timeout_delay)
        if fault.execute:
            return response  # a slow API: the answer arrives late, if the client still waits for it
    # Close the connection without an answer: the client sees a disconnect (or has timed out by now).
    if request.transport is not None:
        request.transport.close()
    return response


async def handle_method(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    bot = services.registry.get(request.match_info["token"])
    if bot is None:
        return UNAUTHORIZED.response()
    method = request.match_info["method"]
    try:
        params = await read_params(request)
    except ApiError as exc:
        bot.record(canonical(method), {}).update(ok=False, status=exc.code, description=exc.description)
        return exc.response()
    fault = bot.faults.take(canonical(method))
    if fault is not None:
        return await _inject(request, bot, method, params, fault)
    return await perform(services, bot, method, params)


async def handle_file(request: web.Request) -> web.StreamResponse:
    bot = request.app[SERVICES].registry.get(request.match_info["token"])
    if bot is None:
        return UNAUTHORIZED.response()
    stored = bot.files.by_path.get(request.match_info["path"])
    if stored is None:
        return ApiError(404, "Not Found").response()
    return web.Response(body=stored.data, content_type=stored.content_type)


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/bot{token}/{method}", handle_method)
    app.router.add_route("GET", "/file/bot{token}/{path:.+}", handle_file)
