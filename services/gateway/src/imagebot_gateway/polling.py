"""Polling mode (development fallback): the lease holder long-polls getUpdates into the same stream.

The offset advances only after every update of a batch is stored (PubAck), so a gateway killed between
getUpdates and publish loses nothing: Telegram hands the unconfirmed updates to the next poll. The dedup id is
the webhook's, so the dispatcher cannot tell the two modes apart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from imagebot_gateway.bot_api import BotApi, TelegramApiError, TelegramUnreachable
from imagebot_gateway.intake import Outcome, UpdateIntake
from imagebot_gateway.lease import Lease
from imagebot_gateway.settings import GatewaySettings

log = logging.getLogger("imagebot.gateway.polling")

MAX_BACKOFF = 30.0


class Poller:
    def __init__(self, bot: BotApi, intake: UpdateIntake, settings: GatewaySettings, lease: Lease):
        self._bot, self._intake, self._settings, self._lease = bot, intake, settings, lease
        self._offset: int | None = None
        self.polling = False

    async def run(self) -> None:
        while True:
            await self._lease.acquired.wait()
            self.polling = True
            try:
                await self._poll_while_leader()
            finally:
                self.polling = False

    async def _poll_while_leader(self) -> None:
        await self._delete_webhook()
        backoff = 1.0
        while self._lease.held:
            try:
                updates = await self._bot.get_updates(
                    offset=self._offset,
                    timeout=self._settings.polling_timeout,
                    limit=self._settings.polling_limit,
                    allowed_updates=self._settings.allowed_updates,
                )
                await self._store_batch(updates)
                backoff = 1.0
            except TelegramApiError as exc:
                if exc.error_code == 409:
                    log.error("getUpdates conflict (409): another poller or a webhook is active: %s", exc.description)
                else:
                    log.warning("getUpdates failed: %s", exc)
                await asyncio.sleep(max(backoff, float(exc.retry_after or 0)))
                backoff = min(backoff * 2, MAX_BACKOFF)
            except (TelegramUnreachable, StorageUnavailable) as exc:
                log.warning("%s; retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    async def _delete_webhook(self) -> None:
        while self._lease.held:
            try:
                await self._bot.delete_webhook(drop_pending_updates=False)
                log.info("polling: webhook deleted, long-polling getUpdates")
                return
            except (TelegramApiError, TelegramUnreachable) as exc:
                log.warning("polling: deleteWebhook failed (%s); retrying", exc)
                await asyncio.sleep(2)

    async def _store_batch(self, updates: list[Any]) -> None:
        for update in updates:
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                continue
            outcome = await self._intake.accept_update(update)
            if not outcome.acknowledged:
                # Keep the offset: the batch (this update on) is fetched again once storage is back.
                raise StorageUnavailable(outcome)
            self._offset = update["update_id"] + 1


class StorageUnavailable(Exception):
    def __init__(self, outcome: Outcome):
        super().__init__(f"update not stored ({outcome.value})")
