"""Kie.ai calls us back asynchronously with no trace context; the callback URL carries it instead.

The gateway takes a well-formed `traceparent` query parameter as the parent of its callback span, so the
callback shows in Jaeger inside the trace of the job that created the task.
"""

from __future__ import annotations

from urllib.parse import quote

from opentelemetry import propagate


def with_traceparent(url: str | None) -> str | None:
    """`url` plus `traceparent=<current span context>` (unchanged when there is no URL or no active span)."""
    if url is None:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    traceparent = carrier.get("traceparent")
    if not traceparent:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}traceparent={quote(traceparent)}"
