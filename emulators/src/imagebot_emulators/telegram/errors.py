"""Bot API answers in Telegram's wire shape: `{"ok": true, "result": ...}` or `{"ok": false, ...}`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# Descriptions Telegram uses for bare status codes (faults injected without a description use them).
DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """A failed Bot API call; the HTTP status always equals `error_code`, as on api.telegram.org."""

    def __init__(self, code: int, description: str | None = None, *, retry_after: int | None = None) -> None:
        self.code = code
        self.description = description or DEFAULT_DESCRIPTIONS.get(code, "Error")
        self.retry_after = retry_after
        if code == 429 and retry_after is not None and description is None:
            self.description = f"Too Many Requests: retry after {retry_after}"
        super().__init__(f"{code} {self.description}")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body

    def response(self) -> web.Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return web.json_response(self.body(), status=self.code, headers=headers)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


class MethodResult:
    """A successful result with the optional `description` Telegram adds (e.g. "Webhook was set")."""

    def __init__(self, result: Any, description: str | None = None) -> None:
        self.result = result
        self.description = description

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": True, "result": self.result}
        if self.description:
            body["description"] = self.description
        return body
