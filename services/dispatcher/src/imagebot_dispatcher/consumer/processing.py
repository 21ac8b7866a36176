"""One message, start to finish: trace span, dedup, the handler with bounded retries, then ack or dead-letter.

The dedup check (a KV read) is skipped for an update that is provably its first copy (idempotency.first_copy);
otherwise it runs beside the conversation's read ahead of the update (its FSM record, another KV read), so an
update waits for one server round trip before its handler, not two.

The handler runs at most `handler_attempts` times with short exponential backoff (a Telegram `retry_after` on
the exception stretches the wait, capped), each try bounded by `handler_timeout`, so a poison message delays
only its own chat by a bounded time before it is copied to DEAD_LETTERS and terminated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from nats.js import JetStreamContext
from opentelemetry.trace import Span, Status, StatusCode

from imagebot_common.messages.v1 import EVENT_TYPE_HEADER
from imagebot_common.nats import subjects
from imagebot_common.telemetry.nats_propagation import process_span
from imagebot_dispatcher.consumer import metrics
from imagebot_dispatcher.consumer.dead_letters import publish_dead_letter
from imagebot_dispatcher.consumer.envelope import Envelope
from imagebot_dispatcher.consumer.held import HeldMessages
from imagebot_dispatcher.consumer.idempotency import (
    DEAD_LETTERED,
    HandledRegistry,
    event_key,
    first_copy,
    update_key,
)
from imagebot_dispatcher.consumer.options import EngineOptions
from imagebot_dispatcher.consumer.partitions import SPAN_TEMPLATE, UPDATE_KIND
from imagebot_dispatcher.consumer.port import ConversationPort

log = logging.getLogger("imagebot.dispatcher.consumer")


@dataclass
class EngineStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    handler_failures: int = 0
    redeliveries: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


@dataclass(frozen=True)
class _Call:
    key: str | None  # idempotency key, None when the message carries nothing to dedup on
    run: Callable[[object | None], Awaitable[None]]  # given the read ahead (None on a retry)
    read_ahead: Callable[[], Awaitable[object | None]] | None = None
    unseen: bool = False  # provably never handled before: no need to ask the registry (the key is still recorded)


class MessageProcessor:
    def __init__(
        self,
        conversation: ConversationPort,
        registry: HandledRegistry,
        js: JetStreamContext,
        held: HeldMessages,
        options: EngineOptions,
        stats: EngineStats,
        *,
        duplicate_window: float = 0.0,
    ) -> None:
        """`duplicate_window`: the updates stream's, in seconds (0: unknown, every update is checked)."""
        self._conversation, self._registry, self._js, self._held = conversation, registry, js, held
        self._options, self.stats = options, stats
        self._duplicate_window = duplicate_window
        self._workers = asyncio.Semaphore(options.workers)

    async def process(self, envelope: Envelope) -> None:
        with process_span(envelope.msg, SPAN_TEMPLATE, envelope.consumer) as span:
            span.set_attribute("imagebot.chat_key", envelope.chat)
            span.set_attribute("imagebot.partition", envelope.partition)
            await self._process(envelope, span)

    async def _process(self, envelope: Envelope, span: Span) -> None:
        kind = envelope.where.kind
        if envelope.deliveries > self._options.max_deliveries:
            error = f"delivered {envelope.deliveries} times without an ack (a handler may crash or freeze the replica)"
            await self._dead_letter(envelope, "redelivered_too_often", error, span, key=None)
            return
        try:
            call = self._call_for(envelope)
        except ValueError as exc:
            await self._dead_letter(envelope, "unparsable", str(exc), span, key=None)
            return
        seen, ahead = await self._check_and_read_ahead(call)
        if seen:
            span.set_attribute("imagebot.duplicate", True)
            self.stats.duplicates += 1
            metrics.DUPLICATES.labels(kind).inc()
            await self._held.ack(envelope)
            return
        error = await self._run_with_retries(call, ahead, kind, span)
        if error is not None:
            await self._dead_letter(envelope, "handler_error", error, span, key=call.key)
            return
        if call.key is not None:
            await self._registry.record(call.key)
        await self._held.ack(envelope)
        self.stats.handled += 1
        metrics.HANDLED.labels(kind).inc()

    async def _check_and_read_ahead(self, call: _Call) -> tuple[bool, object | None]:
        """Was it handled already, and the conversation's read ahead: both at once when there are both."""
        if call.key is None:
            return False, None
        if call.unseen:
            return False, await call.read_ahead() if call.read_ahead is not None else None
        if call.read_ahead is None:
            return await self._registry.seen(call.key), None
        seen, ahead = await asyncio.gather(self._registry.seen(call.key), call.read_ahead())
        return seen, ahead

    def _call_for(self, envelope: Envelope) -> _Call:
        headers = dict(envelope.msg.headers or {})
        if envelope.where.kind == UPDATE_KIND:
            try:
                update = orjson.loads(envelope.msg.data)
            except ValueError as exc:
                raise ValueError(f"update is not JSON: {exc}") from None
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                raise ValueError("update has no integer update_id")
            conversation = self._conversation

            def handle(ahead: object | None) -> Awaitable[None]:
                return conversation.handle_update(update, update_id=update_id, headers=headers, read_ahead=ahead)

            unseen = first_copy(
                update,
                stored_at=envelope.msg.metadata.timestamp.timestamp(),
                deliveries=envelope.deliveries,
                duplicate_window=self._duplicate_window,
            )
            key = update_key(self._options.bot_id, update_id)
            return _Call(key, handle, lambda: conversation.read_ahead(update), unseen=unseen)
        event_type = headers.get(EVENT_TYPE_HEADER)
        if not event_type:
            raise ValueError(f"event without a {EVENT_TYPE_HEADER} header")
        msg_id = headers.get(subjects.MSG_ID_HEADER)
        payload = envelope.msg.data
        return _Call(
            event_key(msg_id) if msg_id else None,
            lambda _: self._conversation.handle_event(event_type, payload, headers=headers),
        )

    async def _run_with_retries(self, call: _Call, ahead: object | None, kind: str, span: Span) -> str | None:
        """None on success, else a description of the last failure. Only the first attempt gets the read ahead:
        a retry reads what the failed attempt may have changed."""
        started = time.monotonic()
        attempts = self._options.handler_attempts
        try:
            for attempt in range(1, attempts + 1):
                exc = await self._attempt(call, ahead if attempt == 1 else None)
                if exc is None:
                    return None
                self.stats.handler_failures += 1
                metrics.HANDLER_FAILURES.labels(kind).inc()
                span.record_exception(exc)
                log.warning("handler failed (attempt %d of %d): %s", attempt, attempts, _describe(exc, self._options))
                if attempt < attempts:
                    await asyncio.sleep(self._retry_delay(attempt, exc))
            span.set_status(Status(StatusCode.ERROR, "dead-lettered after retries"))
            return _describe(exc, self._options)
        finally:
            metrics.HANDLER_DURATION.labels(kind).observe(time.monotonic() - started)

    async def _attempt(self, call: _Call, ahead: object | None) -> Exception | None:
        async with self._workers:  # the global in-flight limit; released during backoff sleeps
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            metrics.IN_FLIGHT.inc()
            try:
                async with asyncio.timeout(self._options.handler_timeout):
                    await call.run(ahead)
                return None
            except Exception as exc:
                return exc
            except asyncio.CancelledError as exc:
                if _being_cancelled():
                    raise  # shutdown: the drain timeout ran out
                return RuntimeError(f"handler raised CancelledError: {exc}")  # a stray one must not kill the lane
            finally:
                self.stats.in_flight -= 1
                metrics.IN_FLIGHT.dec()

    def _retry_delay(self, attempt: int, exc: Exception) -> float:
        delay = self._options.retry_backoff * 2 ** (attempt - 1)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > 0:
            delay = max(delay, min(float(retry_after), self._options.retry_max_delay))
        return delay

    async def _dead_letter(self, envelope: Envelope, reason: str, error: str, span: Span, *, key: str | None) -> None:
        kind = envelope.where.kind
        log.error("dead-lettering %s seq %d (%s): %s", envelope.msg.subject, envelope.seq, reason, error)
        span.set_attribute("imagebot.dead_letter_reason", reason)
        await publish_dead_letter(self._js, envelope.msg, reason, error)
        await self._held.term(envelope)
        if key is not None:
            await self._registry.record(key, DEAD_LETTERED)
        self.stats.dead_lettered += 1
        metrics.DEAD_LETTERED.labels(kind, reason).inc()


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _describe(exc: Exception, options: EngineOptions) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"handler timed out after {options.handler_timeout:g}s"
    return f"{type(exc).__name__}: {exc}"
