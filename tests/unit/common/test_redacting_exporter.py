"""No secret reaches the trace backend, whatever instrumentation recorded it."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from imagebot_common.redaction import redactor
from imagebot_common.telemetry.redacting_exporter import RedactingSpanExporter

pytestmark = pytest.mark.unit

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_secrets_in_names_attributes_events_and_status_are_masked_before_export():
    redactor.register("kie-secret-key-42424242")
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(memory)))
    tracer = provider.get_tracer("t")

    with tracer.start_as_current_span(f"GET /bot{TOKEN}/getMe") as span:
        span.set_attribute("url.full", f"https://api.telegram.org/bot{TOKEN}/getMe")
        span.set_attribute("http.request.header.authorization", ("Bearer kie-secret-key-42424242",))
        span.record_exception(RuntimeError(f"failed for {TOKEN}"))

    (exported,) = memory.get_finished_spans()
    dump = str((exported.name, dict(exported.attributes), [(e.name, dict(e.attributes)) for e in exported.events]))
    assert TOKEN.split(":")[1] not in dump
    assert "kie-secret-key-42424242" not in dump
    assert "/bot***/getMe" in exported.name
