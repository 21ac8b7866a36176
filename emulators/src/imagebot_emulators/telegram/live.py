"""Change notification for the chat page: anything that may change a chat wakes the page's event streams.

Rather than hooking every place that edits a chat, the feed is bumped after each Bot API call (HTTP or a
method in a webhook answer) and after each control call that is not a read. A woken stream rebuilds its
view and sends it only if it differs, so a spurious wake-up costs one comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from .bot_api import SERVICES
from .params import Params
from .state import BotState


class ChangeFeed:
    """A version number and a way to wait until it moves."""

    def __init__(self) -> None:
        self.version = 0
        self.closed = False
        self._changed = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, version: int, timeout: float) -> bool:
        """Wait until the version differs from `version` (True) or `timeout` passes (False)."""
        if self.version != version or self.closed:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version != version

    def close(self) -> None:
        """On shutdown: let every waiting stream end now instead of holding the server for its grace period."""
        self.closed = True
        self.bump()


FEED = web.AppKey("change_feed", ChangeFeed)
Perform = Callable[[BotState, str, Params, str], Awaitable[web.Response]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _may_change_a_chat(request: web.Request) -> bool:
    path = request.path
    return path.startswith("/bot") or (path.startswith("/control/") and request.method not in ("GET", "HEAD"))


def _notifying(feed: ChangeFeed, perform: Perform) -> Perform:
    async def perform_and_notify(bot: BotState, method: str, params: Params, via: str) -> web.Response:
        try:
            return await perform(bot, method, params, via)
        finally:
            feed.bump()

    return perform_and_notify


def install(app: web.Application) -> ChangeFeed:
    """Attach a feed to the app; call after `services.perform` is set (methods in webhook answers use it)."""
    feed = ChangeFeed()
    app[FEED] = feed

    @web.middleware
    async def notify_changes(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            if _may_change_a_chat(request):
                feed.bump()

    async def close_feed(_: web.Application) -> None:
        feed.close()

    app.middlewares.append(notify_changes)
    app.on_shutdown.append(close_feed)
    services = app[SERVICES]
    if services.perform is not None:
        services.perform = _notifying(feed, services.perform)
    return feed
