"""The dispatcher's conversation behind one seam: the consumption engine feeds it updates and events.

`build_conversation` makes the process's one Bot; `start()` provisions the conversation's buckets and builds
the aiogram Dispatcher; `read_ahead` parses an update and reads its FSM record before the engine knows the
update is new (read_ahead.py); `handle_update` feeds the update to aiogram and `handle_event` delivers an image
result. Both raise on failure, so the engine can retry and dead-letter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiogram import Bot, Dispatcher
from nats.aio.client import Client
from nats.js import JetStreamContext

from imagebot_common.messages.v1 import IMAGE_RESULT_EVENT, ImageResultV1
from imagebot_common.nats import subjects, topology
from imagebot_common.redaction import redactor
from imagebot_dispatcher.conversation.commands import register_commands
from imagebot_dispatcher.conversation.deliveries import DeliveryLog
from imagebot_dispatcher.conversation.fsm_storage import NatsKvStorage
from imagebot_dispatcher.conversation.jobs import JobPublisher
from imagebot_dispatcher.conversation.middlewares import TextsMiddleware
from imagebot_dispatcher.conversation.models import ModelChoice, load_catalog_or_none
from imagebot_dispatcher.conversation.quotas import QuotaBook, QuotaLimits
from imagebot_dispatcher.conversation.read_ahead import UpdateReadAhead, parse_update, read_ahead
from imagebot_dispatcher.conversation.results import ResultDelivery
from imagebot_dispatcher.conversation.routers import include_conversation_routers
from imagebot_dispatcher.conversation.telegram_session import create_bot
from imagebot_dispatcher.conversation.tracing import HandlerName, UpdateSpan
from imagebot_dispatcher.settings import DispatcherSettings

log = logging.getLogger("imagebot.dispatcher.conversation")


class UnknownEventType(ValueError):
    """An event kind this version cannot handle (the engine dead-letters it)."""


class Conversation:
    def __init__(self, settings: DispatcherSettings, nc: Client, js: JetStreamContext, bot: Bot) -> None:
        self._settings = settings
        self._nc = nc
        self._js = js
        self.bot = bot
        self._dp: Dispatcher | None = None
        self._storage: NatsKvStorage | None = None
        self._results: ResultDelivery | None = None
        self._commands_task: asyncio.Task[bool] | None = None

    @property
    def bot_id(self) -> int:
        return self.bot.id

    async def start(self) -> None:
        settings, js = self._settings, self._js
        replicas = settings.nats_replicas
        timeout = settings.conversation_kv_timeout_seconds
        await topology.ensure_key_value(js, topology.fsm_bucket(replicas))
        quota_kv = await topology.ensure_key_value(js, topology.quotas_bucket(replicas))
        delivered_kv = await topology.ensure_key_value(
            js, topology.delivered_results_bucket(settings.delivered_results_ttl_seconds, replicas)
        )
        ttl = settings.fsm_ttl_seconds or None
        storage = NatsKvStorage(
            self._nc, bucket=subjects.FSM_BUCKET, ttl=ttl, timeout=timeout, direct_reads=replicas == 1
        )
        limits = QuotaLimits(
            active=settings.active_jobs_per_user,
            active_ttl=settings.active_job_ttl_seconds,
            hourly=settings.hourly_jobs_per_user,
            daily=settings.daily_jobs_per_user,
        )
        quotas = QuotaBook(quota_kv, limits, timeout=timeout)
        deliveries = DeliveryLog(delivered_kv, timeout=timeout)
        models = ModelChoice(load_catalog_or_none(settings.catalog_path), single_model_only=settings.single_model_only)
        dp = Dispatcher(
            storage=storage,
            settings=settings,
            models=models,
            quotas=quotas,
            deliveries=deliveries,
            jobs=JobPublisher(js, timeout=settings.job_publish_timeout_seconds),
        )
        dp.update.outer_middleware(UpdateSpan())
        dp.update.outer_middleware(TextsMiddleware())
        for observer in (dp.message, dp.callback_query, dp.my_chat_member):
            observer.middleware(HandlerName())
        include_conversation_routers(dp)
        self._dp, self._storage = dp, storage
        self._results = ResultDelivery(
            self.bot, js, deliveries, quotas, fetch_timeout=settings.image_fetch_timeout_seconds
        )
        self._commands_task = asyncio.create_task(register_commands(self.bot), name="register-bot-commands")
        log.info("conversation ready (bot %s, %d model(s) offered)", self.bot.id, len(models.offered))

    async def read_ahead(self, update: dict[str, Any]) -> UpdateReadAhead | None:
        if self._dp is None or self._storage is None:
            raise RuntimeError("Conversation.start() has not been called")
        return await read_ahead(self._dp.fsm, self._storage, self.bot, update)

    async def handle_update(
        self,
        update: dict[str, Any],
        *,
        update_id: int,
        headers: Mapping[str, str],
        read_ahead: object | None = None,
    ) -> None:
        if self._dp is None:
            raise RuntimeError("Conversation.start() has not been called")
        ahead = read_ahead if isinstance(read_ahead, UpdateReadAhead) else None
        parsed = ahead.update if ahead is not None else parse_update(self.bot, update)
        with NatsKvStorage.remembering_reads(ahead.fsm_record if ahead is not None else None):
            try:
                await self._dp.feed_update(self.bot, parsed)
            except Exception:  # what aiogram's feed_raw_update logs: the traceback a retry's one line lacks
                log.exception("update %d failed in its handler", update_id)
                raise

    async def handle_event(self, event_type: str, payload: bytes, *, headers: Mapping[str, str]) -> None:
        if self._results is None:
            raise RuntimeError("Conversation.start() has not been called")
        if event_type != IMAGE_RESULT_EVENT:
            raise UnknownEventType(f"unknown event type {event_type!r}")
        with NatsKvStorage.remembering_reads():
            await self._results.deliver(ImageResultV1.model_validate_json(payload))

    async def close(self) -> None:
        if self._commands_task is not None and not self._commands_task.done():
            self._commands_task.cancel()
            await asyncio.gather(self._commands_task, return_exceptions=True)
        await self.bot.session.close()


def build_conversation(settings: DispatcherSettings, nc: Client, js: JetStreamContext) -> Conversation:
    redactor.register(settings.telegram_bot_token)
    return Conversation(settings, nc, js, create_bot(settings))
