"""Baseline (c): the original bot's fast-ack design (seed 004): the aiohttp handler validates the update, puts
it into `asyncio.Queue(100)` without waiting (dropped when full) and answers 200; 3 workers `feed_update`.

`--handler-seconds S` makes each handled update await S seconds, standing for the handler's Bot API round trip
(0 = a trivial handler). `GET /stats` -> received, dropped, handled.
"""

from __future__ import annotations

import asyncio

from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message, Update
from aiohttp import web

from bench import updates
from bench.servers.common import COUNTERS, base_app, port_arg, secret_ok, serve

QUEUE_SIZE = 100
WORKERS = 3


def build_with(handler_seconds: float):
    async def build() -> web.Application:
        app = base_app(received=0, dropped=0, handled=0)
        counters = app[COUNTERS]
        router = Router()

        @router.message()
        async def handle(message: Message) -> None:
            if handler_seconds:
                await asyncio.sleep(handler_seconds)
            counters["handled"] += 1

        dp = Dispatcher()
        dp.include_router(router)
        bot = Bot(updates.BOT_TOKEN)
        queue: asyncio.Queue[Update] = asyncio.Queue(QUEUE_SIZE)

        async def webhook(request: web.Request) -> web.Response:
            if not secret_ok(request):
                return web.Response(status=401)
            update = Update.model_validate(await request.json(), context={"bot": bot})
            counters["received"] += 1
            try:
                queue.put_nowait(update)  # non-blocking, as in the original
            except asyncio.QueueFull:
                counters["dropped"] += 1
            return web.Response(status=200, text="ok")

        async def worker() -> None:
            while True:
                update = await queue.get()
                try:
                    await dp.feed_update(bot, update)
                finally:
                    queue.task_done()

        async def start_workers(app: web.Application) -> None:
            app["workers"] = [asyncio.create_task(worker()) for _ in range(WORKERS)]

        app.on_startup.append(start_workers)
        app.router.add_post(updates.WEBHOOK_PATH, webhook)
        return app

    return build


def main() -> None:
    parser = port_arg(__doc__ or "")
    parser.add_argument("--handler-seconds", type=float, default=0.0)
    args = parser.parse_args()
    serve(build_with(args.handler_seconds), args.port)


if __name__ == "__main__":
    main()
