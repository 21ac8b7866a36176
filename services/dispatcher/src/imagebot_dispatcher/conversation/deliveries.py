"""Which results reached their user (bucket `delivered_results`), so a result that arrives twice is shown once.

The record also keeps the prompt, format and model of the job: "🔄 Try again" and "🖼 Create another" buttons
find them here, since 64 bytes of callback data cannot hold a prompt.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field

from imagebot_dispatcher.conversation.fsm_storage import kv_token

_OUR_JOB_ID = re.compile(r"^-?\d+:\d+$")


class DeliveryRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str
    outcome: str  # succeeded | failed | undeliverable
    prompt: str
    aspect_ratio: str
    model: str
    language: str = "ru"
    delivered_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def delivery_key(job_id: str) -> str:
    """`j.<bot>.<update>` for our own `<bot>:<update>` ids, an encoded token otherwise."""
    if _OUR_JOB_ID.match(job_id):
        return "j." + job_id.replace(":", ".")
    return "j." + kv_token(job_id)


class DeliveryLog:
    def __init__(self, kv: KeyValue, *, timeout: float = 1.0) -> None:
        self._kv = kv
        self._timeout = timeout

    async def get(self, job_id: str) -> DeliveryRecord | None:
        try:
            entry = await asyncio.wait_for(self._kv.get(delivery_key(job_id)), self._timeout)
        except KeyNotFoundError:
            return None
        return DeliveryRecord.model_validate_json(entry.value) if entry.value else None

    async def record(self, record: DeliveryRecord) -> None:
        await asyncio.wait_for(
            self._kv.put(delivery_key(record.job_id), record.model_dump_json().encode()), self._timeout
        )
