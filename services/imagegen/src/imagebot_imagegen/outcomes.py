"""What a Kie.ai failure means for the user: the `JobError.kind` of the published result."""

from __future__ import annotations

import re

from imagebot_common.messages.v1 import JobError
from imagebot_common.redaction import redactor
from imagebot_imagegen.kie.errors import (
    KieBadRequest,
    KieError,
    KieGenerationFailed,
    KieInsufficientCredits,
    KieProtocolError,
    KieTransportError,
    KieValidationError,
)
from imagebot_imagegen.kie.models import TaskRecord

# Kie reports refused prompts as a failed task with failCode "422" and text like "prohibited content".
_CONTENT_REFUSAL = re.compile(r"prohibit|nsfw|sensitive|content policy|unsafe|moderat", re.IGNORECASE)


def _text(message: str) -> str:
    return redactor.redact(message)[:500]


def is_ambiguous_create_failure(exc: KieError) -> bool:
    """The createTask request went out but we cannot know whether Kie created (and will charge) a task."""
    return (isinstance(exc, KieTransportError) and exc.request_sent) or isinstance(exc, KieProtocolError)


def error_for_kie(exc: KieError) -> JobError:
    """A Kie call that failed for good (non-retryable, or retries exhausted)."""
    code = exc.code or None
    if isinstance(exc, KieInsufficientCredits):
        return JobError(kind="insufficient_credits", message=_text(str(exc)), provider_code=code)
    if isinstance(exc, KieValidationError):
        return JobError(kind="content_rejected", message=_text(str(exc)), provider_code=code)
    if isinstance(exc, KieGenerationFailed):
        return JobError(kind="generation_failed", message=_text(str(exc)), provider_code=code)
    if isinstance(exc, KieBadRequest):
        return JobError(kind="invalid_request", message=_text(str(exc)), provider_code=code)
    if is_ambiguous_create_failure(exc):
        message = f"createTask outcome unknown ({exc}); not repeated, to never pay for a second task"
        return JobError(kind="provider_unavailable", message=_text(message), provider_code=code)
    # 401 (our key), 429/455/5xx after retries, 505, transport failures: the provider cannot serve us now.
    return JobError(kind="provider_unavailable", message=_text(str(exc)), provider_code=code)


def error_for_failed_task(task: TaskRecord) -> JobError:
    """A task that ended in state `fail` (Kie's callback code 501)."""
    fail_code = (task.fail_code or "").strip()
    message = _text(f"task failed: {fail_code or '?'} {task.fail_msg or ''}".strip())
    provider_code = int(fail_code) if fail_code.isdigit() else 501
    if fail_code == "422" or _CONTENT_REFUSAL.search(task.fail_msg or ""):
        return JobError(kind="content_rejected", message=message, provider_code=provider_code)
    return JobError(kind="generation_failed", message=message, provider_code=provider_code)


def timeout_error(seconds: float) -> JobError:
    return JobError(kind="timeout", message=f"no result within {seconds:.0f} s")


def invalid_request(message: str) -> JobError:
    return JobError(kind="invalid_request", message=_text(message))
