"""Helpers shared by the control API modules: JSON bodies, errors, bot lookup."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .bot_api import SERVICES
from .state import BotState, Services

_ERRORS: dict[int, type[web.HTTPException]] = {400: web.HTTPBadRequest, 404: web.HTTPNotFound, 409: web.HTTPConflict}


def fail(status: int, error: str) -> web.HTTPException:
    """A control API failure: `{"ok": false, "error": ...}` with a 4xx status, to be raised."""
    return _ERRORS[status](text=json.dumps({"ok": False, "error": error}), content_type="application/json")


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]


def bot_of(request: web.Request) -> BotState:
    bot = services_of(request).registry.get(request.match_info["token"])
    if bot is None:
        raise fail(400, "malformed bot token; expected <digits>:<20+ characters of A-Za-z0-9_->")
    return bot


def int_arg(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise fail(400, f"{name} must be an integer") from None


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise fail(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise fail(400, "the body must be a JSON object")
    return body
