"""The exactly-once ledger: one record per job in the `image_jobs` KV bucket, changed only by compare-and-set.

States: pending (seen, no createTask sent) -> creating (a createTask request is on the wire) -> running (Kie
task id recorded) -> finishing (one path claimed the right to publish the result) -> done (result published).
A second key `task.<id>` maps a Kie task id back to its job for the callback path.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from enum import StrEnum

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict

from imagebot_common.messages.v1 import ErrorKind, ImageJobV1, JobError

_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")


class JobState(StrEnum):
    PENDING = "pending"
    CREATING = "creating"
    RUNNING = "running"
    FINISHING = "finishing"
    DONE = "done"


class JobRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    job: ImageJobV1
    state: JobState
    deadline_at: float  # epoch seconds; fixed at first sight so restarts never extend a job
    first_seen_at: float
    task_id: str | None = None
    create_attempts: int = 0
    create_started_at: float | None = None  # refreshed before every createTask request
    task_created_at: float | None = None
    claimed_by: str | None = None
    claimed_at: float | None = None
    deliveries: int = 0
    pending_error: JobError | None = None  # the failure being published (a takeover republishes it)
    outcome: str | None = None
    error_kind: ErrorKind | None = None
    finished_at: float | None = None

    def with_(self, **changes: object) -> JobRecord:
        return self.model_copy(update=changes)


@dataclass(frozen=True)
class Versioned:
    record: JobRecord
    revision: int


class JobConflict(Exception):
    """Another path changed the record first (the CAS lost); re-read and follow the new state."""


def _token(value: str) -> str:
    if _PLAIN_TOKEN.fullmatch(value):
        return f"r.{value}"
    return "b." + base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def job_key(job_id: str) -> str:
    return f"job.{_token(job_id)}"


def task_key(task_id: str) -> str:
    return f"task.{_token(task_id)}"


def new_record(job: ImageJobV1, timeout: float) -> JobRecord:
    now = time.time()
    return JobRecord(job=job, state=JobState.PENDING, first_seen_at=now, deadline_at=now + timeout, deliveries=1)


class JobStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def get(self, job_id: str) -> Versioned | None:
        try:
            entry = await self._kv.get(job_key(job_id))
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        return Versioned(JobRecord.model_validate_json(entry.value), entry.revision or 0)

    async def create(self, record: JobRecord) -> Versioned:
        try:
            revision = await self._kv.create(job_key(record.job.job_id), record.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            raise JobConflict(record.job.job_id) from None
        return Versioned(record, revision)

    async def replace(self, current: Versioned, record: JobRecord) -> Versioned:
        try:
            revision = await self._kv.update(
                job_key(record.job.job_id), record.model_dump_json().encode(), last=current.revision
            )
        except KeyWrongLastSequenceError:
            raise JobConflict(record.job.job_id) from None
        return Versioned(record, revision)

    async def index_task(self, task_id: str, job_id: str) -> None:
        await self._kv.put(task_key(task_id), job_id.encode())

    async def job_for_task(self, task_id: str) -> str | None:
        try:
            entry = await self._kv.get(task_key(task_id))
        except KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None
