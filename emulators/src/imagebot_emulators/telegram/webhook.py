"""Webhook delivery the way telegram-bot-api's WebhookActor does it.

One queue per key (chat, or user for button presses); only each queue's head is in flight; at most
max_connections requests at once; anything but a 2xx is retried (first at once, then with doubling
delays, or after the Retry-After the receiver asked for) until the update expires.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp

from .messages import now
from .state import BotState, Services
from .updates import PendingUpdate
from .webhook_reply import execute_reply

log = logging.getLogger(__name__)
MAX_RETRY_AFTER = 3600


def _retry_after(headers: Any) -> float | None:
    try:
        value = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(value, MAX_RETRY_AFTER) if value > 0 else None


def _describe(exc: BaseException) -> str:
    """Map a client failure to the last_error_message Telegram reports for it."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "Connection timed out"
    if isinstance(exc, TimeoutError):
        return "Read timeout expired"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "Failed to resolve host: Name or service not known"
    if isinstance(exc, aiohttp.ClientConnectorError):
        refused = isinstance(exc.os_error, ConnectionRefusedError)
        return "Connection refused" if refused else f"Connection error: {exc.os_error.strerror or exc}"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | aiohttp.ClientPayloadError):
        return "Webhook connection closed"
    return f"Connection error: {type(exc).__name__}"


class WebhookDelivery:
    def __init__(self, services: Services, bot: BotState) -> None:
        self.services = services
        self.bot = bot
        self.tasks: dict[int, asyncio.Task[None]] = {}  # by PendingUpdate.seq
        self.last_success = time.monotonic()
        self.failing = False  # a failure happened since the last success
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name=f"webhook-{self.bot.bot_id}")

    async def stop(self) -> None:
        tasks = [*self.tasks.values(), *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()

    async def _run(self) -> None:
        while True:
            wait = self._dispatch()
            await self.bot.updates.wait(wait)

    def _limit(self) -> int:
        config, webhook = self.services.config, self.bot.webhook
        assert webhook is not None
        stalled = time.monotonic() - self.last_success > config.error_slowdown_after
        # Telegram opens a single connection while the receiver has been failing for a while.
        return 1 if config.error_slowdown and self.failing and stalled else webhook.max_connections

    def _dispatch(self) -> float | None:
        """Start a delivery for every idle queue head that is due; return seconds to the next due one."""
        store = self.bot.updates
        for item in store.purge_expired():
            self.bot.stats.dropped.append({"update_id": item.update_id, "reason": "expired", "attempts": item.attempts})
        limit, clock, next_due = self._limit(), time.monotonic(), None
        seen: set[int] = set()
        for item in store.pending():
            if item.key in seen:
                continue
            seen.add(item.key)
            if item.in_flight:
                continue
            if item.not_before > clock:
                next_due = min(next_due or item.not_before, item.not_before)
                continue
            if len(self.tasks) >= limit:
                break
            item.in_flight = True
            self.tasks[item.seq] = asyncio.create_task(self._deliver(item))
        return None if next_due is None else max(next_due - clock, 0.0)

    async def _deliver(self, item: PendingUpdate) -> None:
        webhook = self.bot.webhook
        assert webhook is not None
        item.attempts += 1
        headers = {"Content-Type": "application/json", "Accept-Encoding": "gzip, deflate"}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        timeout = self.services.config.webhook_timeout
        client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        try:
            session = self.services.client()
            body = json.dumps(item.payload)
            async with session.post(webhook.url, data=body, headers=headers, timeout=client_timeout) as response:
                if 200 <= response.status <= 299:
                    await execute_reply(self.services, self.bot, response)
                    self._succeeded(item)
                else:
                    await response.read()
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
                    self._failed(item, error, _retry_after(response.headers))
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._failed(item, _describe(exc), None)
        except Exception:
            # An emulator bug must not turn into a tight re-delivery loop: count it as a failed attempt.
            log.exception("webhook delivery of update %s crashed", item.update_id)
            self._failed(item, "Internal emulator error", None)
        finally:
            item.in_flight = False
            self.tasks.pop(item.seq, None)
            self.bot.updates.notify()

    def _succeeded(self, item: PendingUpdate) -> None:
        self.last_success, self.failing = time.monotonic(), False
        self.bot.updates.remove(item)
        self.bot.stats.delivered.append(
            {"update_id": item.update_id, "attempts": item.attempts, "queue_key": item.key, "time": time.time()}
        )

    def _failed(self, item: PendingUpdate, error: str, retry_after: float | None) -> None:
        config, bot = self.services.config, self.bot
        self.failing = True
        bot.last_error_date, bot.last_error_message = now(), error
        bot.stats.failed_attempts += 1
        bot.stats.errors.append({"time": time.time(), "update_id": item.update_id, "message": error})
        log.info("webhook delivery of update %s failed (attempt %s): %s", item.update_id, item.attempts, error)
        if retry_after is not None:
            delay = retry_after
        elif item.attempts == 1:
            delay = 0.0  # Telegram re-sends at once after the first failure
        else:
            delay = min(config.retry_base_delay * 2 ** (item.attempts - 2), config.retry_max_delay)
        if time.time() + delay > item.expires_at:
            bot.updates.remove(item)
            bot.stats.dropped.append({"update_id": item.update_id, "reason": "expired", "attempts": item.attempts})
        else:
            item.not_before = time.monotonic() + delay


async def restart_delivery(services: Services, bot: BotState) -> None:
    await stop_delivery(bot)
    if bot.webhook is not None:
        bot.delivery = WebhookDelivery(services, bot)
        bot.delivery.start()


async def stop_delivery(bot: BotState) -> None:
    if bot.delivery is not None:
        delivery, bot.delivery = bot.delivery, None
        await delivery.stop()
