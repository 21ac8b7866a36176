"""Baseline (b): aiogram's own `SimpleRequestHandler(handle_in_background=True)` in one aiohttp process.

The handler is trivial (counts the message), so the figure is aiogram's intake: validate, start a task, 200.
`GET /stats` -> {"handled": n}.
"""

from __future__ import annotations

from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bench import updates
from bench.servers.common import COUNTERS, base_app, port_arg, serve


async def build() -> web.Application:
    app = base_app(handled=0)
    counters = app[COUNTERS]
    router = Router()

    @router.message()
    async def count(message: Message) -> None:
        counters["handled"] += 1

    dp = Dispatcher()
    dp.include_router(router)
    bot = Bot(updates.BOT_TOKEN)
    SimpleRequestHandler(dp, bot, handle_in_background=True, secret_token=updates.WEBHOOK_SECRET).register(
        app, path=updates.WEBHOOK_PATH
    )
    return app


def main() -> None:
    serve(build, port_arg(__doc__ or "").parse_args().port)


if __name__ == "__main__":
    main()
