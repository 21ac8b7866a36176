"""Every exported span passes through the redactor: names, attributes, events and status descriptions.

Instrumentations record URLs, exception messages and stack traces; one of them could one day carry a token.
Scrubbing at export time is the one place that covers them all, whatever produced the span.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from imagebot_common.redaction import redactor


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, tuple | list):
        return type(value)(_clean(v) for v in value)
    return value


def _clean_attributes(attributes: Any) -> dict[str, Any]:
    return {key: _clean(value) for key, value in (attributes or {}).items()}


def redacted_span(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    if status.description:
        status = Status(status.status_code, redactor.redact(status.description))
    return ReadableSpan(
        name=redactor.redact(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_clean_attributes(span.attributes),
        events=[Event(e.name, _clean_attributes(e.attributes), e.timestamp) for e in span.events],
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter):
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([redacted_span(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
