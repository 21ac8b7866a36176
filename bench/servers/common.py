"""What the aiohttp baselines share: a counter endpoint, the secret check, and serving on uvloop.

All Python servers in the bench run on uvloop (like the gateway), so the comparison is of designs, not loops.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from bench import updates
from imagebot_common.event_loop import run_service

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
COUNTERS = web.AppKey("counters", dict)


def secret_ok(request: web.Request) -> bool:
    return hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), updates.WEBHOOK_SECRET)


async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[COUNTERS])


def base_app(**counters: int) -> web.Application:
    app = web.Application()
    app[COUNTERS] = dict(counters)
    app.router.add_get("/stats", stats)
    app.router.add_get("/healthz", healthz)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def port_arg(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    return parser


def serve(build: Callable[[], Awaitable[web.Application]], port: int) -> None:
    async def run() -> None:
        app = await build()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    run_service(run())  # as our services run: uvloop, start-up heap frozen out of the collector
