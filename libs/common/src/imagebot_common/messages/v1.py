"""Version 1 of the messages between the services (JSON bodies; the event kind travels in a header)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4"]
ASPECT_RATIOS: tuple[AspectRatio, ...] = ("1:1", "16:9", "9:16", "4:3", "3:4")
PROMPT_MAX_CHARS = 1000
DEFAULT_MODEL = "z-image"

EVENT_TYPE_HEADER = "Imagebot-Event"
IMAGE_RESULT_EVENT = "image_result.v1"
IMAGE_JOB_TYPE = "image_job.v1"
KIE_CALLBACK_TYPE = "kie_callback.v1"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> _Message:
        return cls.model_validate_json(data)


class ImageJobV1(_Message):
    """dispatcher -> imagegen on `img.jobs`, Nats-Msg-Id = job_id. The job id derives from the update that
    asked for the picture, so a redelivered update can never create a second job."""

    job_id: str = Field(min_length=1, max_length=128)
    bot_id: int
    chat_id: int
    user_id: int
    prompt: str = Field(min_length=1, max_length=PROMPT_MAX_CHARS)
    aspect_ratio: AspectRatio = "1:1"
    model: str = DEFAULT_MODEL
    language: str = "ru"
    status_message_id: int | None = None
    requested_at: datetime = Field(default_factory=utcnow)


class ImageRef(BaseModel):
    """A picture in the `images` object store: the dispatcher uploads these bytes to Telegram."""

    model_config = ConfigDict(frozen=True)

    object_name: str
    content_type: str
    size: int
    source_url: str | None = None  # the provider's URL, for the record only; it may expire


ErrorKind = Literal[
    "insufficient_credits",  # Kie 402
    "content_rejected",  # Kie 422 / generation refused
    "generation_failed",  # Kie 501 / task state fail
    "provider_unavailable",  # Kie 429/455/5xx after retries
    "timeout",  # no result within the job deadline
    "invalid_request",  # our own validation
    "internal",
]


class JobError(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ErrorKind
    message: str = ""  # for logs and operators; users get our own text for `kind`
    provider_code: int | None = None


class ImageResultV1(_Message):
    """imagegen -> dispatcher on `tg.in.evt.<chat_id>` (the chat's own lane), header Imagebot-Event =
    image_result.v1, Nats-Msg-Id = `result:<job_id>`. Exactly one per job."""

    job_id: str
    bot_id: int
    chat_id: int
    user_id: int
    outcome: Literal["succeeded", "failed"]
    image: ImageRef | None = None
    error: JobError | None = None
    prompt: str
    aspect_ratio: AspectRatio
    model: str = DEFAULT_MODEL
    language: str = "ru"
    status_message_id: int | None = None
    task_id: str | None = None
    finished_at: datetime = Field(default_factory=utcnow)


class KieCallbackV1(_Message):
    """gateway -> imagegen on `kie.callbacks`: an authenticated callback. Only a hint: imagegen re-reads
    recordInfo before it trusts the outcome."""

    task_id: str
    state: str | None = None
    code: int | None = None
    received_at: datetime = Field(default_factory=utcnow)


def result_msg_id(job_id: str) -> str:
    return f"result:{job_id}"
