"""The IMAGE_JOBS consumer: one durable pull subscription, thousands of jobs in flight as asyncio tasks.

Each job's message stays unacked while the job lives (heartbeats with in_progress); it is acked once the
job's result is published, and nak'ed when the process stops, so another replica (or the restarted one)
resumes it from its record. Stopping: stop fetching, let jobs inside createTask or a publish finish (bounded
by the grace period), cancel the rest; their Kie task ids are already in the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError

from imagebot_common.messages.v1 import ImageJobV1
from imagebot_common.nats import subjects
from imagebot_common.nats.fetching import fetch_or_nothing
from imagebot_common.telemetry.nats_propagation import process_span
from imagebot_imagegen import metrics
from imagebot_imagegen.context import JobContext
from imagebot_imagegen.jobs import JobRunner

log = logging.getLogger("imagebot.imagegen.worker")

FETCH_BATCH = 100
FETCH_TIMEOUT = 1.0


class JobWorker:
    def __init__(self, js: JetStreamContext, ctx: JobContext, *, max_in_flight: int, ack_wait: float) -> None:
        self._js, self._ctx = js, ctx
        self._max_in_flight = max_in_flight
        self._heartbeat_every = max(1.0, ack_wait / 3)
        self._runners: dict[asyncio.Task[None], JobRunner | None] = {}
        self._slot_freed = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._stopping = False

    @property
    def in_flight(self) -> int:
        return len(self._runners)

    def is_alive(self) -> bool:
        return self._stopping or (self._loop is not None and not self._loop.done())

    async def start(self) -> None:
        sub = await self._js.pull_subscribe_bind(subjects.IMAGE_JOBS_CONSUMER, stream=subjects.IMAGE_JOBS_STREAM)
        self._sub = sub
        self._loop = asyncio.create_task(self._fetch_loop(sub), name="imagegen-fetch")

    async def _fetch_loop(self, sub: JetStreamContext.PullSubscription) -> None:
        while not self._stopping:
            free = self._max_in_flight - len(self._runners)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            for msg in await fetch_or_nothing(sub, min(free, FETCH_BATCH), FETCH_TIMEOUT, "image jobs"):
                self._spawn(msg)

    def _spawn(self, msg: Msg) -> None:
        task = asyncio.create_task(self._handle(msg))
        self._runners[task] = None
        self._ctx.stats.in_flight = len(self._runners)
        metrics.JOBS_IN_FLIGHT.set(len(self._runners))
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._runners.pop(task, None)
        self._ctx.stats.in_flight = len(self._runners)
        metrics.JOBS_IN_FLIGHT.set(len(self._runners))
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("job task crashed", exc_info=task.exception())

    async def _handle(self, msg: Msg) -> None:
        try:
            job = ImageJobV1.model_validate_json(msg.data)
        except ValidationError as exc:
            await self._dead_letter(msg, f"invalid ImageJobV1: {exc.errors()[:3]}")
            return
        runner = JobRunner(self._ctx, job)
        current = asyncio.current_task()
        assert current is not None
        self._runners[current] = runner
        self._ctx.stats.received += 1
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        try:
            with process_span(msg, subjects.IMAGE_JOBS_SUBJECT, subjects.IMAGE_JOBS_CONSUMER) as span:
                span.set_attribute("imagebot.job_id", job.job_id)
                await runner.run()
            await msg.ack()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()  # hand the job over; its record tells the next runner where it stands
            raise
        except Exception:
            log.exception("job %s failed unexpectedly; it will be redelivered", job.job_id)
            with contextlib.suppress(Exception):
                await msg.nak(delay=2.0)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_every)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        log.error("dropping an unreadable image job: %s", reason)
        headers = {subjects.DLQ_ERROR_HEADER: reason[:500], subjects.DLQ_SOURCE_HEADER: msg.subject}
        with contextlib.suppress(Exception):
            await self._js.publish(subjects.DLQ_IMAGEGEN_POISON, msg.data, headers=headers, timeout=2.0)
        await msg.term()

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
        idle = [task for task, runner in self._runners.items() if runner is None or not runner.critical]
        for task in idle:
            task.cancel()
        deadline = time.monotonic() + grace
        pending = set(self._runners)
        if pending:
            log.info("stopping: %d jobs handed back, %d finishing their step", len(idle), len(pending) - len(idle))
            _, pending = await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2.0)
