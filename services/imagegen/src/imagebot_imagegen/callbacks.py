"""The KIE_CALLBACKS consumer: a callback is only a hint that a task finished; recordInfo says what happened.

If the task's job runs in this process, wake it (it re-reads recordInfo and finishes). Otherwise look the job up
through the task index and finish it here, racing nobody unsafely: the ledger's CAS lets one path publish.
A callback for a task not yet indexed (it can beat our own write of the task id) is retried a few times, then
dropped: polling completes the job anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError

from imagebot_common.messages.v1 import KieCallbackV1
from imagebot_common.nats import subjects
from imagebot_common.nats.fetching import fetch_or_nothing
from imagebot_common.telemetry.nats_propagation import process_span
from imagebot_imagegen import metrics
from imagebot_imagegen.completion import Finisher
from imagebot_imagegen.job_store import JobState, JobStore
from imagebot_imagegen.kie.client import KieClient
from imagebot_imagegen.stats import Stats
from imagebot_imagegen.waiters import TaskWaiters

log = logging.getLogger("imagebot.imagegen.callbacks")

UNKNOWN_TASK_RETRIES = 5
RETRY_DELAY = 1.0
MAX_CONCURRENT = 200


class CallbackConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        store: JobStore,
        client: KieClient,
        finisher: Finisher,
        waiters: TaskWaiters,
        stats: Stats,
    ) -> None:
        self._js, self._store, self._client = js, store, client
        self._finisher, self._waiters, self._stats = finisher, waiters, stats
        self._loop: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._stopping = False

    def is_alive(self) -> bool:
        return self._stopping or (self._loop is not None and not self._loop.done())

    async def start(self) -> None:
        sub = await self._js.pull_subscribe_bind(subjects.KIE_CALLBACKS_CONSUMER, stream=subjects.KIE_CALLBACKS_STREAM)
        self._sub = sub
        self._loop = asyncio.create_task(self._fetch_loop(sub), name="imagegen-callbacks")

    async def _fetch_loop(self, sub: JetStreamContext.PullSubscription) -> None:
        while not self._stopping:
            for msg in await fetch_or_nothing(sub, 50, 1.0, "callbacks"):
                await self._slots.acquire()
                task = asyncio.create_task(self._handle(msg))
                self._tasks.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _handle(self, msg: Msg) -> None:
        try:
            callback = KieCallbackV1.model_validate_json(msg.data)
        except ValidationError:
            log.warning("dropping an unreadable callback message")
            self._count("unreadable")
            await msg.term()
            return
        with process_span(msg, subjects.KIE_CALLBACKS_SUBJECT, subjects.KIE_CALLBACKS_CONSUMER) as span:
            span.set_attribute("kie.task_id", callback.task_id)
            try:
                await self._route(msg, callback)
            except Exception as exc:  # a hint must never kill the loop
                log.warning("callback for task %s not handled yet: %s", callback.task_id, exc)
                self._count("retry")
                with contextlib.suppress(Exception):
                    await msg.nak(delay=RETRY_DELAY * 2)

    async def _route(self, msg: Msg, callback: KieCallbackV1) -> None:
        if self._waiters.notify(callback.task_id):
            self._count("woke_local_job")
            await msg.ack()
            return
        job_id = await self._store.job_for_task(callback.task_id)
        current = await self._store.get(job_id) if job_id else None
        if current is None:
            if msg.metadata.num_delivered < UNKNOWN_TASK_RETRIES:
                await msg.nak(delay=RETRY_DELAY)
                return
            log.info("callback for unknown task %s dropped", callback.task_id)
            self._count("unknown_task")
            await msg.ack()
            return
        if current.record.state != JobState.RUNNING:
            self._count("already_handled")
            await msg.ack()
            return
        task = await self._client.record_info(callback.task_id)
        if task.is_final and await self._finisher.finish_task(current, task):
            self._count("finished_job")
        else:
            self._count("not_final_or_lost_race")
        await msg.ack()

    def _count(self, result: str) -> None:
        metrics.CALLBACKS.labels(result).inc()
        self._stats.callbacks[result] += 1

    async def stop(self, grace: float) -> None:
        self._stopping = True
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self._sub is not None:
            # Unsubscribed, the pull subscription no longer holds up the connection's drain.
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
