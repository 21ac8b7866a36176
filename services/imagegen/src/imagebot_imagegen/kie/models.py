"""Typed Kie.ai responses: the envelope's `data` for recordInfo, with its JSON-string fields decoded."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TaskState = Literal["waiting", "queuing", "generating", "success", "fail"]
FINAL_STATES: frozenset[str] = frozenset({"success", "fail"})


class TaskRecord(BaseModel):
    """`GET /api/v1/jobs/recordInfo` data. Unknown keys are ignored; `param`/`resultJson` are JSON strings."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    task_id: str = Field(alias="taskId")
    model: str = ""
    state: TaskState
    param: str | None = None
    result_json: str | None = Field(default=None, alias="resultJson")
    fail_code: str | None = Field(default=None, alias="failCode")
    fail_msg: str | None = Field(default=None, alias="failMsg")
    cost_time: int | None = Field(default=None, alias="costTime")
    create_time: int | None = Field(default=None, alias="createTime")
    complete_time: int | None = Field(default=None, alias="completeTime")

    @field_validator("fail_code", mode="before")
    @classmethod
    def _code_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def result_urls(self) -> list[str]:
        if not self.result_json:
            return []
        try:
            decoded = json.loads(self.result_json)
        except json.JSONDecodeError:
            return []
        urls = decoded.get("resultUrls") if isinstance(decoded, dict) else None
        return [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []

    def request_param(self) -> dict[str, object]:
        """The original createTask body (Kie echoes it in `param`)."""
        try:
            decoded = json.loads(self.param or "{}")
        except json.JSONDecodeError:
            return {}
        return decoded if isinstance(decoded, dict) else {}


class DownloadedImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    data: bytes
    content_type: str
    source_url: str
