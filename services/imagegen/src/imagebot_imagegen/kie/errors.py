"""Kie.ai failures as a catchable hierarchy keyed on the envelope `code` (research/kie.md §1.1).

`retryable` says whether repeating the same call is safe: a rate limit, maintenance or server error, or a
transport failure before the request could have reached Kie. Never auth, credits or validation.
"""

from __future__ import annotations


class KieError(Exception):
    code: int = 0
    retryable: bool = False

    def __init__(self, message: str = "", *, code: int | None = None) -> None:
        super().__init__(message or type(self).__name__)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"Kie.ai {self.code}: {self.message}" if self.code else f"Kie.ai: {self.message}"


class KieBadRequest(KieError):
    code = 400


class KieAuthError(KieError):
    code = 401


class KieInsufficientCredits(KieError):
    code = 402


class KieNotFound(KieError):
    code = 404


class KieValidationError(KieError):
    code = 422

    @property
    def is_record_null(self) -> bool:
        """recordInfo right after createTask may answer 422 "recordInfo is null": the task is not visible yet."""
        return "null" in self.message.lower()


class KieRateLimited(KieError):
    code = 429
    retryable = True


class KieMaintenance(KieError):
    code = 455
    retryable = True


class KieServerError(KieError):
    code = 500
    retryable = True


class KieGenerationFailed(KieError):
    code = 501


class KieFeatureDisabled(KieError):
    code = 505


class KieTransportError(KieError):
    """No response. `request_sent` False (connect failure, pool timeout): the call certainly had no effect."""

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent
        self.retryable = True


class KieProtocolError(KieError):
    """A response we cannot read (not JSON, no envelope, missing fields)."""

    retryable = True


_BY_CODE: dict[int, type[KieError]] = {
    cls.code: cls
    for cls in (
        KieBadRequest,
        KieAuthError,
        KieInsufficientCredits,
        KieNotFound,
        KieValidationError,
        KieRateLimited,
        KieMaintenance,
        KieServerError,
        KieGenerationFailed,
        KieFeatureDisabled,
    )
}


def error_for_code(code: int, message: str) -> KieError:
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message)
    if 500 <= code < 600:
        return KieServerError(message, code=code)
    return KieError(message, code=code)
