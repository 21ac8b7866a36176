"""traced_publish: a PRODUCER span wherever a trace may be recorded, none inside a trace that is not."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from imagebot_common.telemetry import nats_propagation
from imagebot_common.telemetry.nats_propagation import traced_publish

pytestmark = pytest.mark.integration

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(nats_propagation, "tracer", provider.get_tracer("test"))
    return memory


async def _stored_headers(js: JetStreamContext, seq: int) -> dict[str, str]:
    return (await js.get_msg("TRACED", seq=seq)).headers or {}


async def test_outside_any_trace_the_publish_starts_a_recorded_producer_span(
    js: JetStreamContext, recorded: InMemorySpanExporter
):
    await js.add_stream(StreamConfig(name="TRACED", subjects=["traced.>"]))

    await traced_publish(js, "traced.1", "traced.{n}", b"x", msg_id="m1", stream="TRACED")

    (span,) = recorded.get_finished_spans()
    assert span.kind is SpanKind.PRODUCER and span.name == "send traced.{n}"
    assert (await _stored_headers(js, 1))["traceparent"].split("-")[1] == f"{span.context.trace_id:032x}"


async def test_inside_an_unrecorded_trace_no_span_is_made_and_that_trace_travels(
    js: JetStreamContext, recorded: InMemorySpanExporter
):
    await js.add_stream(StreamConfig(name="TRACED", subjects=["traced.>"]))
    unsampled = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(0)))

    with trace.use_span(unsampled):
        await traced_publish(js, "traced.1", "traced.{n}", b"x", msg_id="m1", stream="TRACED")

    assert recorded.get_finished_spans() == ()
    headers = await _stored_headers(js, 1)
    assert headers["traceparent"] == f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-00"
    assert headers["Nats-Msg-Id"] == "m1"
