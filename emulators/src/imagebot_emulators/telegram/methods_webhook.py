"""setWebhook, deleteWebhook and getWebhookInfo, with Telegram's checks and messages."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from .calls import Call, Handler
from .errors import ApiError, MethodResult, bad_request
from .polling import TERMINATED_BY_WEBHOOK, allowed_updates_param, terminate_polls
from .state import WebhookConfig
from .webhook import restart_delivery, stop_delivery

_SECRET = re.compile(r"[A-Za-z0-9_-]+")


async def verify_endpoint(url: str, timeout: float) -> None:
    """Telegram resolves the host and connects before it accepts a webhook ("Webhook verified")."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise bad_request("bad webhook: Wrong port number specified in the URL") from None
    loop = asyncio.get_running_loop()
    try:
        addresses = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError, UnicodeError):
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known") from None
    if not host or not addresses:
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
    address = addresses[0][4]
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address[0], address[1]), timeout)
    except ConnectionRefusedError:
        raise bad_request("bad webhook: Connection refused") from None
    except TimeoutError:
        raise bad_request("bad webhook: Connection timed out") from None
    except OSError as exc:
        raise bad_request(f"bad webhook: {exc.strerror or 'Connection failed'}") from None
    writer.close()


def _secret(call: Call) -> str | None:
    secret = call.params.text("secret_token") or None
    if secret is not None:
        if len(secret) > 256:
            raise bad_request("secret token is too long")
        if not _SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
    return secret


async def set_webhook(call: Call) -> MethodResult:
    bot, config = call.bot, call.services.config
    url = (call.params.text("url") or "").strip()
    if not url:
        return await delete_webhook(call)
    if config.set_webhook_rate_limit:
        clock = time.monotonic()
        if clock < bot.next_set_webhook_at:
            raise ApiError(429, retry_after=1)
        bot.next_set_webhook_at = clock + 1
    new = WebhookConfig(
        url=url,
        secret_token=_secret(call),
        max_connections=min(max(call.params.integer("max_connections", 40) or 40, 1), 100),
        ip_address=call.params.text("ip_address") or None,
        has_custom_certificate=call.params.has("certificate"),
    )
    allowed = allowed_updates_param(call)
    drop = call.params.boolean("drop_pending_updates")
    if bot.webhook == new and (allowed is None or allowed == bot.allowed_updates) and not drop:
        return MethodResult(True, "Webhook is already set")
    await verify_endpoint(url, config.verify_timeout)
    if drop:
        bot.updates.clear()
    if bot.webhook is None or bot.webhook.url != url:
        bot.last_error_date = bot.last_error_message = None
    bot.webhook = new
    if allowed is not None:
        bot.allowed_updates = allowed
    terminate_polls(call, TERMINATED_BY_WEBHOOK)
    await restart_delivery(call.services, bot)
    return MethodResult(True, "Webhook was set")


async def delete_webhook(call: Call) -> MethodResult:
    bot = call.bot
    if call.params.boolean("drop_pending_updates"):
        bot.updates.clear()
    if bot.webhook is None:
        return MethodResult(True, "Webhook is already deleted")
    await stop_delivery(bot)
    bot.webhook = None
    bot.last_error_date = bot.last_error_message = None
    return MethodResult(True, "Webhook was deleted")


async def get_webhook_info(call: Call) -> dict[str, Any]:
    bot = call.bot
    info: dict[str, Any] = {
        "url": bot.webhook.url if bot.webhook else "",
        "has_custom_certificate": bool(bot.webhook and bot.webhook.has_custom_certificate),
        "pending_update_count": len(bot.updates.items),
    }
    if bot.last_error_date is not None:
        info["last_error_date"] = bot.last_error_date
        info["last_error_message"] = bot.last_error_message
    if bot.webhook is not None:
        info["max_connections"] = bot.webhook.max_connections
        if bot.allowed_updates:
            info["allowed_updates"] = bot.allowed_updates
    return info


HANDLERS: dict[str, Handler] = {
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
}
