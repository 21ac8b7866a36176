"""The chat page at `/`: a Telegram-like chat with the bot, on top of the control API.

The page itself is static (static/chat.*). It learns of changes through two Server-Sent Events streams:
  GET /control/events                                the bots, until the one to chat with exists
  GET /control/bots/{token}/chats/{chat_id}/events   one private chat as the page shows it
Each event's data is the whole view as JSON, sent when it differs from the last one; the streams never
create a bot (only the bot's own first call does), so "waiting for the bot" stays true until it calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from . import live
from .chat_view import bots_view, chat_view
from .control_support import fail, int_arg, services_of
from .state import TOKEN_RE

STATIC = Path(__file__).with_name("static")
_ASSETS = {
    "chat.css": "text/css",
    "chat.js": "text/javascript",  # ES modules: chat.js imports the other three
    "bubbles.js": "text/javascript",
    "dom.js": "text/javascript",
    "users.js": "text/javascript",
}
# A comment line this often finds closed connections and keeps proxies from timing the stream out.
KEEPALIVE_SECONDS = 15.0

View = Callable[[], tuple[dict[str, Any], float | None]]


async def get_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.html", headers={"Cache-Control": "no-cache"})


async def get_asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name, headers={"Content-Type": _ASSETS[name], "Cache-Control": "no-cache"})


async def _stream(request: web.Request, view: View) -> web.StreamResponse:
    """Send the view now and after every change of it, until the client goes or the server stops."""
    feed = request.app[live.FEED]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    last = ""
    try:
        await response.write(b"retry: 1000\n\n")
        while not feed.closed:
            version = feed.version
            state, changes_at = view()
            body = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
            if body != last:
                await response.write(f"data: {body}\n\n".encode())
                last = body
            timeout = KEEPALIVE_SECONDS if changes_at is None else max(0.05, changes_at - time.time())
            if not await feed.wait(version, min(timeout, KEEPALIVE_SECONDS)) and changes_at is None:
                await response.write(b": keepalive\n\n")
    except ConnectionError:
        pass  # the tab was closed or reloaded
    return response


async def get_bots_events(request: web.Request) -> web.StreamResponse:
    registry = services_of(request).registry
    return await _stream(request, lambda: (bots_view(registry.bots), None))


async def get_chat_events(request: web.Request) -> web.StreamResponse:
    token, chat_id = request.match_info["token"], int_arg(request, "chat_id")
    if TOKEN_RE.fullmatch(token) is None:
        raise fail(400, "malformed bot token; expected <digits>:<20+ characters of A-Za-z0-9_->")
    if chat_id <= 0:
        raise fail(400, "the page shows private chats: chat_id is the user's id")
    registry = services_of(request).registry
    return await _stream(request, lambda: chat_view(registry.bots.get(token), chat_id))


def add_routes(app: web.Application) -> None:
    """The page, its assets and its event streams; call after the Bot API is set up (it wraps `perform`)."""
    live.install(app)
    app.router.add_get("/", get_page)
    app.router.add_get("/page/{name}", get_asset)
    app.router.add_get("/control/events", get_bots_events)
    app.router.add_get("/control/bots/{token}/chats/{chat_id}/events", get_chat_events)
