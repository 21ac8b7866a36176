"""Finishing a job, whichever path gets there first: claim the record with CAS, then publish exactly one result.

Only the path whose compare-and-set moves the record to `finishing` downloads, stores and publishes; the
result also carries Nats-Msg-Id `result:<job_id>`, so a takeover after a crash mid-publish is deduplicated.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from imagebot_common.messages.v1 import (
    EVENT_TYPE_HEADER,
    IMAGE_RESULT_EVENT,
    ImageRef,
    ImageResultV1,
    JobError,
    result_msg_id,
)
from imagebot_common.nats import subjects
from imagebot_common.telemetry.nats_propagation import traced_publish
from imagebot_imagegen import metrics
from imagebot_imagegen.images import ImageDownloadError, download_image, store_image
from imagebot_imagegen.job_store import JobConflict, JobState, JobStore, Versioned, job_key
from imagebot_imagegen.kie.client import KieClient
from imagebot_imagegen.kie.models import TaskRecord
from imagebot_imagegen.outcomes import error_for_failed_task
from imagebot_imagegen.stats import Stats

log = logging.getLogger("imagebot.imagegen.completion")


@dataclass
class Finisher:
    store: JobStore
    client: KieClient
    images: ObjectStore
    js: JetStreamContext
    stats: Stats
    instance_id: str
    image_max_bytes: int
    publish_timeout: float = 5.0
    _claims: int = field(default=0, init=False)

    async def claim(self, current: Versioned, error: JobError | None = None) -> Versioned | None:
        """Take the right to publish; None when another path changed the record first (or it is done)."""
        if current.record.state == JobState.DONE:
            return None
        claimed = current.record.with_(
            state=JobState.FINISHING, claimed_by=self.instance_id, claimed_at=time.time(), pending_error=error
        )
        try:
            return await self.store.replace(current, claimed)
        except JobConflict:
            return None

    async def finish_task(self, current: Versioned, task: TaskRecord) -> bool:
        """Publish the outcome of a final task. False if another path owns (or owned) the result."""
        claimed = await self.claim(current)
        if claimed is None:
            return False
        if task.state == "success":
            return await self._succeed(claimed, task)
        await self._publish(claimed, "failed", error=error_for_failed_task(task))
        return True

    async def fail(self, current: Versioned, error: JobError) -> bool:
        claimed = await self.claim(current, error)
        if claimed is None:
            return False
        await self._publish(claimed, "failed", error=error)
        return True

    async def _succeed(self, claimed: Versioned, task: TaskRecord) -> bool:
        urls = task.result_urls
        if not urls:
            error = JobError(kind="generation_failed", message="task succeeded without a result URL")
            await self._publish(claimed, "failed", error=error)
            return True
        try:
            image = await download_image(
                self.client.files, urls[0], max_bytes=self.image_max_bytes, slots=self.client.file_slots
            )
        except ImageDownloadError as exc:
            kind = "provider_unavailable" if exc.retryable else "generation_failed"
            await self._publish(claimed, "failed", error=JobError(kind=kind, message=str(exc)))
            return True
        ref = await store_image(self.images, job_key(claimed.record.job.job_id), image)
        await self._publish(claimed, "succeeded", image=ref)
        return True

    async def _publish(
        self,
        claimed: Versioned,
        outcome: Literal["succeeded", "failed"],
        *,
        image: ImageRef | None = None,
        error: JobError | None = None,
    ) -> None:
        record = claimed.record
        job = record.job
        result = ImageResultV1(
            job_id=job.job_id,
            bot_id=job.bot_id,
            chat_id=job.chat_id,
            user_id=job.user_id,
            outcome=outcome,
            image=image,
            error=error,
            prompt=job.prompt,
            aspect_ratio=job.aspect_ratio,
            model=job.model,
            language=job.language,
            status_message_id=job.status_message_id,
            task_id=record.task_id,
        )
        await traced_publish(
            self.js,
            subjects.event_subject(job.chat_id),
            subjects.EVENT_SUBJECT_TEMPLATE,
            result.to_bytes(),
            msg_id=result_msg_id(job.job_id),
            headers={EVENT_TYPE_HEADER: IMAGE_RESULT_EVENT},
            timeout=self.publish_timeout,
        )
        kind = error.kind if error else ""
        done = record.with_(state=JobState.DONE, outcome=outcome, error_kind=error.kind if error else None)
        done = done.with_(finished_at=time.time())
        try:
            await self.store.replace(claimed, done)
        except JobConflict:
            log.info("job %s was taken over while publishing; the result id deduplicates it", job.job_id)
        metrics.JOBS_FINISHED.labels(outcome, kind).inc()
        metrics.JOB_SECONDS.observe(max(0.0, time.time() - record.first_seen_at))
        self.stats.record_result(outcome, kind)
        log.info(
            "job %s finished: %s%s (task %s)", job.job_id, outcome, f" ({kind})" if kind else "", record.task_id or "-"
        )
