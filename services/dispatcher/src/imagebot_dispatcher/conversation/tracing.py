"""Spans of the conversation: one per handled update (type and handler), one CLIENT span per Bot API call.

The Bot API URL holds the token (`/bot<token>/method`), so the client span is built here from the method
name and never from a URL: the token cannot reach a span, whatever instrumentation exists.

Inside a trace that is not recorded (nothing exported, or the trace not sampled) no child is started: every
built-in sampler would decide the same for the child (same trace id, or parent-based), and starting one costs
~30 µs of the dispatcher's CPU per span (bench, dispatcher_profile). Outside any trace (a call at start-up)
the span is started as before, as a root.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

tracer = trace.get_tracer("imagebot.dispatcher.conversation")


def _in_unrecorded_trace() -> bool:
    span = trace.get_current_span()
    return span.get_span_context().is_valid and not span.is_recording()


class BotApiSpans(BaseRequestMiddleware):
    """`POST <method>` CLIENT span around each HTTP attempt (registered inside the retry policy)."""

    def __init__(self, api_url: str) -> None:
        parts = urlsplit(api_url)
        self._server = parts.hostname or ""
        self._port = parts.port or (443 if parts.scheme == "https" else 80)

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        if _in_unrecorded_trace():
            return await make_request(bot, method)
        api_method = method.__api_method__
        attributes = {
            "http.request.method": "POST",
            "server.address": self._server,
            "server.port": self._port,
            "url.template": "/bot{token}/" + api_method,
            "telegram.method": api_method,
        }
        chat_id = getattr(method, "chat_id", None)
        if isinstance(chat_id, int):
            attributes["telegram.chat.id"] = chat_id
        with tracer.start_as_current_span(f"POST {api_method}", kind=SpanKind.CLIENT, attributes=attributes) as span:
            try:
                response = await make_request(bot, method)
            except TelegramAPIError as exc:
                span.set_attribute("telegram.error", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            span.set_attribute("http.response.status_code", 200)
            return response


class UpdateSpan(BaseMiddleware):
    """`handle <update type>` around aiogram's routing of one update; HandlerName fills in who handled it."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if _in_unrecorded_trace():
            return await handler(event, data)
        update_type = event.event_type if isinstance(event, Update) else type(event).__name__
        attributes = {"telegram.update.type": update_type}
        if isinstance(event, Update):
            attributes["telegram.update_id"] = event.update_id
        with tracer.start_as_current_span(f"handle {update_type}", attributes=attributes):
            return await handler(event, data)


class HandlerName(BaseMiddleware):
    """Inner middleware: names the handler aiogram chose on the current update span."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        span = trace.get_current_span()
        callback = getattr(data.get("handler"), "callback", None)
        if callback is not None and span.is_recording():
            name = f"{getattr(callback, '__module__', '?')}.{getattr(callback, '__qualname__', '?')}"
            span.set_attribute("aiogram.handler", name.removeprefix("imagebot_dispatcher."))
        return await handler(event, data)
