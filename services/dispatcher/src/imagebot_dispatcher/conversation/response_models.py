"""Keeps aiogram's `Response[T]` models alive, so they are built once per process instead of once per call.

aiogram validates every Bot API answer with `Response[method.__returning__]`. Pydantic caches parametrized
generics in a `WeakValueDictionary`, and nothing else holds the class, so the garbage collector frees it
between calls and the next call builds the whole model again (schema, validator: several milliseconds for
`Response[Message]`, about a tenth of the dispatcher's CPU under /start load, found with py-spy). Holding one
strong reference per method type makes the cache hit.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType


class PinResponseModels(BaseRequestMiddleware):
    def __init__(self) -> None:
        self._pinned: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        method_type = type(method)
        if method_type not in self._pinned:
            self._pinned[method_type] = Response[method.__returning__]  # type: ignore[name-defined]
        return await make_request(bot, method)
