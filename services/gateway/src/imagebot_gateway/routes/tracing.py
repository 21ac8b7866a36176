"""SERVER spans for the gateway's POST endpoints: the root of every user request's trace.

A hand-made span (rather than ASGI instrumentation on every request) keeps the webhook's hot path cheap and
the attributes exact: the route template, never a raw path that might carry a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

tracer = trace.get_tracer("imagebot.gateway.http")


_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def parent_from_traceparent(value: str | None) -> Context | None:
    """The context in a well-formed W3C traceparent, else None (anything else is ignored, not trusted)."""
    if not value or not _TRACEPARENT.match(value):
        return None
    return propagate.extract({"traceparent": value})


@contextmanager
def server_span(route: str, parent: Context | None = None) -> Iterator[Span]:
    """`parent` joins an asynchronous hop to the trace that caused it (Kie.ai's callback echoes our URL)."""
    attributes = {"http.request.method": "POST", "http.route": route, "url.scheme": "http"}
    with tracer.start_as_current_span(
        f"POST {route}", context=parent, kind=SpanKind.SERVER, attributes=attributes
    ) as span:
        yield span


def record_status(span: Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
