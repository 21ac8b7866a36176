"""SERVER spans for the gateway's POST endpoints: the root of every user request's trace.

A hand-made span (rather than ASGI instrumentation on every request) keeps the webhook's hot path cheap and
the attributes exact: the route template, never a raw path that might carry a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

tracer = trace.get_tracer("imagebot.gateway.http")


@contextmanager
def server_span(route: str) -> Iterator[Span]:
    attributes = {"http.request.method": "POST", "http.route": route, "url.scheme": "http"}
    with tracer.start_as_current_span(f"POST {route}", kind=SpanKind.SERVER, attributes=attributes) as span:
        yield span


def record_status(span: Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
