"""The one way out to Telegram: a Bot whose session middleware paces, retries and honours flood control.

Every Bot API call passes `TelegramRequestPolicy`:
- message-sending calls (send*, edit*, copy/forward) take a token from their chat's bucket (about 1/s, 20/min
  in groups) and from the global one (about 30/s); the wait is a plain sleep of that call only;
- a 429 pauses only its chat (or everyone, for a call that belongs to no chat) for `retry_after`, then the
  call is repeated; a retry_after longer than the configured maximum fails the call instead;
- 5xx and network errors are retried with jittered exponential backoff, a bounded number of times.
Logs name the method and chat, never the URL (it contains the token).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from imagebot_dispatcher.conversation import metrics
from imagebot_dispatcher.conversation.rate_limits import ChatRef, OutboundLimiter, TelegramLimits
from imagebot_dispatcher.conversation.response_models import PinResponseModels
from imagebot_dispatcher.conversation.settings import ConversationSettings
from imagebot_dispatcher.conversation.tracing import BotApiSpans

log = logging.getLogger("imagebot.dispatcher.telegram")

_UNTHROTTLED_SENDS = frozenset({"sendChatAction"})
_MESSAGE_METHODS = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})
MAX_BACKOFF_SECONDS = 10.0


def counts_as_message(api_method: str) -> bool:
    """Calls Telegram's flood control counts per chat: anything that sends or edits a message."""
    if api_method in _UNTHROTTLED_SENDS:
        return False
    return api_method.startswith(("send", "edit")) or api_method in _MESSAGE_METHODS


def chat_of(method: TelegramMethod[Any]) -> ChatRef | None:
    chat = getattr(method, "chat_id", None)
    return chat if isinstance(chat, int | str) and not isinstance(chat, bool) else None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # tries per call on 5xx / network errors
    backoff_seconds: float = 0.5
    max_retry_after: float = 60.0  # longest retry_after waited in place
    max_retry_after_waits: int = 5

    def backoff(self, failures: int) -> float:
        return min(MAX_BACKOFF_SECONDS, self.backoff_seconds * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)


class TelegramRequestPolicy(BaseRequestMiddleware):
    def __init__(
        self,
        limiter: OutboundLimiter,
        retry: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limiter = limiter
        self.retry = retry
        self._sleep = sleep

    async def _wait_turn(self, api_method: str, chat: ChatRef | None) -> None:
        if counts_as_message(api_method):
            wait = self.limiter.reserve_chat(chat) if chat is not None else 0.0
            if wait > 0:
                await self._sleep(wait)
            # The global token is taken only after the chat's wait, so a throttled chat never holds one.
            global_wait = self.limiter.reserve_global()
            if global_wait > 0:
                await self._sleep(global_wait)
            metrics.TELEGRAM_THROTTLE_SECONDS.observe(wait + global_wait)
        else:
            paused = self.limiter.pause_remaining(chat)
            if paused > 0:
                await self._sleep(paused)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        api_method = method.__api_method__
        chat = chat_of(method)
        failures = 0
        flood_waits = 0
        while True:
            await self._wait_turn(api_method, chat)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                metrics.TELEGRAM_RETRY_AFTER.labels(method=api_method).inc()
                self.limiter.pause(chat, exc.retry_after)
                flood_waits += 1
                if exc.retry_after > self.retry.max_retry_after or flood_waits > self.retry.max_retry_after_waits:
                    log.warning(
                        "Telegram 429 on %s (chat %s), retry_after %ss: giving up", api_method, chat, exc.retry_after
                    )
                    raise
                log.warning("Telegram 429 on %s (chat %s): waiting %ss", api_method, chat, exc.retry_after)
            except TelegramEntityTooLarge:
                raise  # a network error by class, but retrying cannot make the file smaller
            except (TelegramServerError, TelegramNetworkError) as exc:
                failures += 1
                reason = "server_error" if isinstance(exc, TelegramServerError) else "network_error"
                if failures >= self.retry.max_attempts:
                    log.warning(
                        "Telegram %s on %s (chat %s): giving up after %d tries", reason, api_method, chat, failures
                    )
                    raise
                delay = self.retry.backoff(failures)
                metrics.TELEGRAM_RETRIES.labels(method=api_method, reason=reason).inc()
                log.info("Telegram %s on %s (chat %s): retry %d in %.2fs", reason, api_method, chat, failures, delay)
                await self._sleep(delay)


def limits_from(settings: ConversationSettings) -> TelegramLimits:
    return TelegramLimits(
        chat_rate=settings.telegram_chat_rate,
        chat_burst=settings.telegram_chat_burst,
        group_per_minute=settings.telegram_group_per_minute,
        global_rate=settings.telegram_global_rate,
    )


def retry_policy_from(settings: ConversationSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.telegram_max_attempts,
        backoff_seconds=settings.telegram_backoff_seconds,
        max_retry_after=settings.telegram_max_retry_after_seconds,
        max_retry_after_waits=settings.telegram_max_retry_after_waits,
    )


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_bot(settings: ConversationSettings) -> Bot:
    """The process's one Bot, pointed at TELEGRAM_API_URL, with HTML as the default parse mode."""
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.telegram_api_url),
        timeout=settings.telegram_request_timeout_seconds,
        # orjson reads every Bot API answer and writes every nested parameter (reply_markup) in a fraction of the
        # stdlib's time; json was ~6% of the dispatcher's CPU per /start (bench, dispatcher_profile).
        json_loads=orjson.loads,
        json_dumps=_json_text,
    )
    session.middleware(PinResponseModels())
    session.middleware(TelegramRequestPolicy(OutboundLimiter(limits_from(settings)), retry_policy_from(settings)))
    session.middleware(BotApiSpans(settings.telegram_api_url))  # inside the policy: one span per attempt
    return Bot(settings.telegram_bot_token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
