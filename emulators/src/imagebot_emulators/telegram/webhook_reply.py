"""A method in a webhook's 2xx answer is executed, as Telegram does; its result is never reported back."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from .errors import ApiError
from .params import Params, Upload, parse_body, read_multipart
from .state import BotState, Services

log = logging.getLogger(__name__)
# Telegram ignores these in a webhook answer (WebhookActor.cpp), as well as every get* method.
_IGNORED = frozenset({"setwebhook", "deletewebhook", "close", "logout"})


async def execute_reply(services: Services, bot: BotState, response: aiohttp.ClientResponse) -> None:
    values: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    try:
        if response.content_type.startswith("multipart/"):
            await read_multipart(aiohttp.MultipartReader(response.headers, response.content), values, uploads)
        else:
            parse_body(response.content_type, await response.read(), values)
    except (ApiError, ValueError, aiohttp.ClientError) as exc:
        # The answer was a 2xx, so the update is delivered whatever its body holds.
        log.debug("unreadable webhook answer body: %s", exc)
        return
    method = values.pop("method", None)
    if not isinstance(method, str) or method.lower() in _IGNORED or method.lower().startswith("get"):
        return
    if services.perform is not None:
        await services.perform(bot, method, Params(values, uploads), "webhook_reply")
