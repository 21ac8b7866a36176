"""A log line written inside a span can be found from Jaeger and back: it carries trace_id and span_id."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from imagebot_common.logs import TEXT_FORMAT, JsonFormatter, RedactingTextFormatter, TraceContextFilter

pytestmark = pytest.mark.unit


def formatted(formatter: logging.Formatter, inside_span: bool) -> tuple[str, str, str]:
    record = logging.LogRecord("imagebot.test", logging.INFO, __file__, 1, "hello", (), None)
    tracer = TracerProvider().get_tracer("t")
    if not inside_span:
        TraceContextFilter().filter(record)
        return formatter.format(record), "", ""
    with tracer.start_as_current_span("work") as span:
        TraceContextFilter().filter(record)
        ctx = span.get_span_context()
        return formatter.format(record), format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def test_a_text_line_inside_a_span_ends_with_its_trace_and_span_ids():
    line, trace_id, span_id = formatted(RedactingTextFormatter(TEXT_FORMAT), inside_span=True)
    assert "[INFO] imagebot.test: hello" in line
    assert line.endswith(f"trace_id={trace_id} span_id={span_id}")


def test_a_json_line_inside_a_span_has_trace_and_span_id_fields():
    line, trace_id, span_id = formatted(JsonFormatter(), inside_span=True)
    entry = json.loads(line)
    assert (entry["trace_id"], entry["span_id"], entry["message"]) == (trace_id, span_id, "hello")


def test_a_line_outside_any_span_has_no_trace_fields():
    line, _, _ = formatted(RedactingTextFormatter(TEXT_FORMAT), inside_span=False)
    assert "trace_id" not in line
    assert "trace_id" not in json.loads(formatted(JsonFormatter(), inside_span=False)[0])
