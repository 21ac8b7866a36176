"""One job's life: from its record in the ledger to its one result, resuming whatever a previous run left.

The record's state says what to do next (job_store.py): pending -> send createTask (marking `creating` right
before the request leaves); creating and fresh -> another runner is on the wire, wait; creating and stale ->
the creator died mid-request, and since Kie has no idempotency key we cannot know whether it made a paid task,
so we fail the job (provider_unavailable) rather than risk a second charge; running -> wait for the task by
polling (woken early by callbacks); finishing and stale -> take over the publish; done -> nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from imagebot_common.messages.v1 import ImageJobV1, JobError
from imagebot_imagegen import metrics
from imagebot_imagegen.context import JobContext
from imagebot_imagegen.job_store import JobConflict, JobState, Versioned, new_record
from imagebot_imagegen.kie.errors import KieError, KieNotFound, KieValidationError
from imagebot_imagegen.outcomes import error_for_kie, invalid_request, timeout_error
from imagebot_imagegen.polling import poll_interval
from imagebot_imagegen.trace_link import with_traceparent
from imagebot_imagegen.waiters import wait_for_hint

log = logging.getLogger("imagebot.imagegen.jobs")

RECORD_NULL_GRACE_SECONDS = 60.0  # recordInfo may not know a fresh task yet ("recordInfo is null" / 404)
RECHECK_SECONDS = 1.0  # how often to look again at a record another runner is changing


class JobRunner:
    def __init__(self, ctx: JobContext, job: ImageJobV1) -> None:
        self.ctx, self.job = ctx, job
        self.critical = False  # True while a createTask or a publish must not be interrupted
        self._indexed = False  # the task.<id> -> job key is written

    async def run(self) -> None:
        current = await self._load()
        while current is not None and current.record.state != JobState.DONE:
            current = await self._step(current)

    async def _load(self) -> Versioned:
        found = await self.ctx.store.get(self.job.job_id)
        if found is not None:
            self.ctx.stats.resumed += 1
            metrics.JOBS_STARTED.labels("true").inc()
            log.info(
                "job %s redelivered in state %s (task %s)", self.job.job_id, found.record.state, found.record.task_id
            )
            return found
        metrics.JOBS_STARTED.labels("false").inc()
        try:
            return await self.ctx.store.create(new_record(self.job, self.ctx.job_timeout))
        except JobConflict:
            again = await self.ctx.store.get(self.job.job_id)
            assert again is not None
            return again

    async def _reread(self) -> Versioned | None:
        return await self.ctx.store.get(self.job.job_id)

    async def _step(self, current: Versioned) -> Versioned | None:
        record = current.record
        now = time.time()
        if record.state == JobState.PENDING:
            if now >= record.deadline_at:
                await self._fail(current, timeout_error(self.ctx.job_timeout))
                return await self._reread()
            return await self._create(current)
        if record.state == JobState.CREATING:
            if now - (record.create_started_at or 0) > self.ctx.create_stale_after:
                log.warning("job %s: createTask was interrupted (outcome unknown); not repeating it", record.job.job_id)
                await self._fail(
                    current,
                    error_for_kie(KieError("createTask interrupted before its task id was recorded; not repeated")),
                )
                return await self._reread()
            await asyncio.sleep(RECHECK_SECONDS)
            return await self._reread()
        if record.state == JobState.RUNNING:
            return await self._await_task(current)
        if record.state == JobState.FINISHING:
            if now - (record.claimed_at or 0) > self.ctx.finish_stale_after:
                return await self._take_over(current)
            await asyncio.sleep(RECHECK_SECONDS)
            return await self._reread()
        return current

    async def _fail(self, current: Versioned, error: JobError) -> None:
        self.critical = True
        try:
            await self.ctx.finisher.fail(current, error)
        finally:
            self.critical = False

    async def _create(self, current: Versioned) -> Versioned | None:
        job = current.record.job
        model = self.ctx.catalog.get(job.model)
        if model is None or (self.ctx.single_model_only and model.id != self.ctx.catalog.default.id):
            await self._fail(current, invalid_request(f"model {job.model!r} is not offered"))
            return await self._reread()
        try:
            task_input = model.task_input(job.prompt, job.aspect_ratio)
        except ValueError as exc:
            await self._fail(current, invalid_request(str(exc)))
            return await self._reread()
        if len(job.prompt) > model.max_prompt_chars:
            await self._fail(current, invalid_request(f"prompt longer than {model.max_prompt_chars} characters"))
            return await self._reread()

        latest = current

        async def mark_on_the_wire() -> None:
            nonlocal latest
            record = latest.record
            marked = record.with_(
                state=JobState.CREATING,
                create_attempts=record.create_attempts + 1,
                create_started_at=time.time(),
                claimed_by=self.ctx.instance_id,
            )
            latest = await self.ctx.store.replace(latest, marked)  # JobConflict: someone else moved first
            self.critical = True

        try:
            task_id = await self.ctx.client.create_task(
                model.id, task_input, with_traceparent(self.ctx.callback_url), before_send=mark_on_the_wire
            )
        except JobConflict:
            self.critical = False
            return await self._reread()
        except KieError as exc:
            log.warning("job %s: createTask failed: %s", job.job_id, exc)
            await self._fail(latest, error_for_kie(exc))
            return await self._reread()
        try:
            running = latest.record.with_(state=JobState.RUNNING, task_id=task_id, task_created_at=time.time())
            latest = await self.ctx.store.replace(latest, running)
        except JobConflict:
            log.error("job %s: record changed while creating task %s", job.job_id, task_id)
            return await self._reread()
        finally:
            self.critical = False
        await self.ctx.store.index_task(task_id, job.job_id)
        self._indexed = True
        log.info("job %s: Kie task %s created", job.job_id, task_id)
        return latest

    async def _await_task(self, current: Versioned) -> Versioned | None:
        record = current.record
        task_id = record.task_id
        assert task_id is not None
        if not self._indexed:  # a resumed job: repair a crash between recording the task and indexing it
            await self.ctx.store.index_task(task_id, record.job.job_id)
            self._indexed = True
        hint = self.ctx.waiters.register(task_id)
        started = record.task_created_at or record.first_seen_at
        try:
            while True:
                remaining = record.deadline_at - time.time()
                if remaining <= 0:
                    log.warning("job %s: task %s not finished within the deadline", record.job.job_id, task_id)
                    await self._fail(current, timeout_error(self.ctx.job_timeout))
                    return await self._reread()
                interval = poll_interval(
                    time.time() - started,
                    initial=self.ctx.poll_initial,
                    in_flight=self.ctx.stats.in_flight,
                    reads_per_second=self.ctx.reads_per_second,
                    callbacks_on=self.ctx.callback_url is not None,
                )
                await wait_for_hint(hint, min(interval, remaining))
                try:
                    task = await self.ctx.client.record_info(task_id)
                except (KieNotFound, KieValidationError) as exc:
                    if time.time() - started < RECORD_NULL_GRACE_SECONDS:
                        continue
                    await self._fail(current, error_for_kie(exc))
                    return await self._reread()
                except KieError as exc:
                    if exc.retryable:
                        log.warning("job %s: recordInfo keeps failing (%s); polling on", record.job.job_id, exc)
                        continue
                    await self._fail(current, error_for_kie(exc))
                    return await self._reread()
                if not task.is_final:
                    continue
                metrics.GENERATION_SECONDS.observe(max(0.0, time.time() - started))
                self.critical = True
                try:
                    await self.ctx.finisher.finish_task(current, task)
                finally:
                    self.critical = False
                return await self._reread()
        finally:
            self.ctx.waiters.unregister(task_id)

    async def _take_over(self, current: Versioned) -> Versioned | None:
        """The publisher died after claiming: publish again (the result id deduplicates a second copy)."""
        record = current.record
        log.warning("job %s: taking over a stale finishing claim of %s", record.job.job_id, record.claimed_by)
        if record.pending_error is not None or record.task_id is None:
            error = record.pending_error or error_for_kie(KieError("job interrupted while reporting its outcome"))
            await self._fail(current, error)
            return await self._reread()
        try:
            task = await self.ctx.client.record_info(record.task_id)
        except KieError:
            await asyncio.sleep(RECHECK_SECONDS)
            return await self._reread()
        if not task.is_final:
            running = await self.ctx.store.replace(current, record.with_(state=JobState.RUNNING))
            return running
        self.critical = True
        try:
            await self.ctx.finisher.finish_task(current, task)
        finally:
            self.critical = False
        return await self._reread()
