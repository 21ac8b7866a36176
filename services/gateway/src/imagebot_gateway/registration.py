"""Webhook registration, by the one replica that holds the registrar lease.

After the HTTP server listens: read getWebhookInfo; when url, allowed_updates and max_connections already
match and Telegram reports no error, do nothing (no setWebhook storm on rolling deploys); otherwise
deleteWebhook then setWebhook with the secret. A fixed number of attempts with backoff; on final failure log
an error and keep serving (health stays up). Never deleteWebhook on shutdown: another replica serves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from imagebot_common.redaction import mask_url
from imagebot_gateway.bot_api import BotApi, TelegramApiError, TelegramUnreachable
from imagebot_gateway.lease import Lease
from imagebot_gateway.settings import GatewaySettings

log = logging.getLogger("webhook")

RECENT_ERROR_SECONDS = 600
PENDING_DROP_THRESHOLD = 10


def webhook_matches(info: dict[str, Any], settings: GatewaySettings) -> bool:
    """Telegram already delivers where and how we want, and reports no recent delivery error."""
    last_error = info.get("last_error_date")
    recent_error = bool(last_error) and time.time() - float(last_error) < RECENT_ERROR_SECONDS
    return (
        info.get("url") == settings.webhook_url
        and set(info.get("allowed_updates") or []) == set(settings.allowed_updates)
        and info.get("max_connections") == settings.webhook_max_connections
        and not recent_error
    )


def should_drop_pending(info: dict[str, Any]) -> bool:
    """The seed's policy (opt-in): a failing or backed-up webhook drops Telegram's backlog on re-registration."""
    return bool(info.get("last_error_message")) or int(info.get("pending_update_count") or 0) > PENDING_DROP_THRESHOLD


class WebhookRegistrar:
    def __init__(self, bot: BotApi, settings: GatewaySettings, secret: str, lease: Lease):
        self._bot, self._settings, self._secret, self._lease = bot, settings, secret, lease
        self.registered = asyncio.Event()
        self.last_error: str | None = None

    async def run(self) -> None:
        """Register whenever this replica holds the lease, then re-check periodically for drift."""
        while True:
            await self._lease.acquired.wait()
            await self.ensure_registered()
            try:
                await asyncio.wait_for(self._lease.lost.wait(), timeout=self._settings.webhook_check_interval)
            except TimeoutError:
                continue

    async def ensure_registered(self) -> bool:
        delays = self._settings.register_backoff
        attempts = self._settings.webhook_register_attempts
        for attempt in range(1, attempts + 1):
            try:
                await self._register_once(attempt, attempts)
            except (TelegramApiError, TelegramUnreachable) as exc:
                self.last_error = str(exc)
                if attempt == attempts:
                    log.error("❌ Webhook registration failed after %d attempts: %s", attempts, exc)
                    return False
                delay = delays[min(attempt - 1, len(delays) - 1)] if delays else 0
                if isinstance(exc, TelegramApiError) and exc.retry_after:
                    delay = max(delay, float(exc.retry_after))
                log.warning("webhook attempt %d/%d failed: %s; retrying in %.1fs", attempt, attempts, exc, delay)
                await asyncio.sleep(delay)
            else:
                self.last_error = None
                self.registered.set()
                return True
        return False

    async def _register_once(self, attempt: int, attempts: int) -> None:
        masked = mask_url(self._settings.webhook_url)
        info = await self._bot.get_webhook_info()
        if webhook_matches(info, self._settings):
            log.info("webhook attempt %d/%d: already set to %s; nothing to do", attempt, attempts, masked)
            return
        drop = self._settings.webhook_drop_pending_on_error and should_drop_pending(info)
        log.info("webhook attempt %d/%d: registering %s (drop pending: %s)", attempt, attempts, masked, drop)
        await self._bot.delete_webhook(drop_pending_updates=drop)
        await self._bot.set_webhook(
            self._settings.webhook_url,
            secret_token=self._secret,
            allowed_updates=self._settings.allowed_updates,
            max_connections=self._settings.webhook_max_connections,
            drop_pending_updates=drop,
        )
        log.info("✅ Webhook registered successfully: %s", masked)
