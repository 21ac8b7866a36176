"""The conversation's spans: a child span only where the trace is recorded, a root span outside any trace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiogram.methods import SendMessage
from aiogram.types import Update
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from imagebot_dispatcher.conversation import tracing

UPDATE = Update.model_validate({"update_id": 7, "message": {
    "message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "/start",
}})  # fmt: skip


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    # ALWAYS_ON ignores the parent's decision, so a child under an unsampled parent is skipped only by our check.
    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(tracing, "tracer", provider.get_tracer("test"))
    yield memory
    provider.shutdown()


def unsampled_trace() -> Any:
    context = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=TraceFlags(0))
    return trace.use_span(NonRecordingSpan(context))


async def route(event: Any, data: dict[str, Any]) -> str:
    return "routed"


async def call_bot_api(bot: Any, method: Any) -> str:
    return "answered"


async def test_an_update_in_a_recorded_trace_gets_a_handle_span(spans: InMemorySpanExporter):
    with tracing.tracer.start_as_current_span("process"):
        assert await tracing.UpdateSpan()(route, UPDATE, {}) == "routed"

    names = [span.name for span in spans.get_finished_spans()]
    assert names == ["handle message", "process"]


async def test_an_update_in_an_unrecorded_trace_is_routed_without_a_span(spans: InMemorySpanExporter):
    with unsampled_trace():
        assert await tracing.UpdateSpan()(route, UPDATE, {}) == "routed"
        assert await tracing.BotApiSpans("http://api.test")(call_bot_api, None, SendMessage(chat_id=5, text="hi")) == (
            "answered"
        )

    assert spans.get_finished_spans() == ()


async def test_a_bot_api_call_outside_any_trace_is_a_root_client_span(spans: InMemorySpanExporter):
    result = await tracing.BotApiSpans("http://api.test")(call_bot_api, None, SendMessage(chat_id=5, text="hi"))

    assert result == "answered"
    (span,) = spans.get_finished_spans()
    assert span.name == "POST sendMessage" and span.parent is None
    assert span.attributes["url.template"] == "/bot{token}/sendMessage"
