"""Publishing picture jobs to IMAGE_JOBS (`img.jobs`), deduplicated by the job id.

The job id is `<bot_id>:<update_id>` of the button press that asked for the picture, and it is the
Nats-Msg-Id: a redelivered (or retried) update publishes the same id and the stream keeps one job.
"""

from __future__ import annotations

import logging

from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from imagebot_common.messages.v1 import ImageJobV1
from imagebot_common.nats import subjects
from imagebot_common.telemetry.nats_propagation import traced_publish

log = logging.getLogger("imagebot.dispatcher.jobs")


class JobsUnavailable(Exception):
    """IMAGE_JOBS refused or did not answer (missing, full, NATS down): the user is told to try later."""


def job_id_for(bot_id: int, update_id: int) -> str:
    return subjects.update_msg_id(bot_id, update_id)


def update_id_of(job_id: str) -> int | None:
    """The update id inside a job id we made, for buttons that refer back to the job."""
    _, _, tail = job_id.rpartition(":")
    return int(tail) if tail.isdigit() else None


class JobPublisher:
    def __init__(self, js: JetStreamContext, *, timeout: float = 2.0) -> None:
        self._js = js
        self._timeout = timeout

    async def publish(self, job: ImageJobV1) -> bool:
        """Publish once; True when the stream already had this job (a duplicate), False when it is new."""
        try:
            ack = await traced_publish(
                self._js,
                subjects.IMAGE_JOBS_SUBJECT,
                subjects.IMAGE_JOBS_SUBJECT,
                job.to_bytes(),
                msg_id=job.job_id,
                stream=subjects.IMAGE_JOBS_STREAM,
                timeout=self._timeout,
            )
        except (NatsError, TimeoutError) as exc:
            # No stream (10059 / no responders), full (10077, discard new), or no answer in time.
            log.warning("job %s not accepted by %s: %s", job.job_id, subjects.IMAGE_JOBS_STREAM, type(exc).__name__)
            raise JobsUnavailable(type(exc).__name__) from exc
        return bool(ack.duplicate)
