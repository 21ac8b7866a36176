"""Every processed message runs in a CONSUMER span that continues the producer's trace (the gateway's)."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from imagebot_common.telemetry import nats_propagation
from tests.integration.dispatcher.consumer_support import (
    Replicas,
    create_updates_stream,
    publish_update,
    replicas_fixture,  # noqa: F401 - the `replicas` fixture
)
from tests.support.conversation_double import ScriptedConversation
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_SPAN_ID = 0x00F067AA0BA902B7


async def test_the_handler_runs_inside_a_process_span_parented_on_the_gateways_send_span(
    js: JetStreamContext, replicas: Replicas, monkeypatch: pytest.MonkeyPatch
):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(nats_propagation, "tracer", provider.get_tracer("test"))  # instead of the global provider
    seen: list[int] = []

    async def capture_trace(chat: int, message_id: int, update_id: int) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    await create_updates_stream(js, partitions=4)
    conversation = ScriptedConversation(on_started=capture_trace)
    await replicas.start(conversation)
    traceparent = f"00-{TRACE_ID:032x}-{PARENT_SPAN_ID:016x}-01"
    await publish_update(js, 31, 1, headers={"traceparent": traceparent})

    await wait_until(lambda: memory.get_finished_spans(), message="a finished span")
    (span,) = memory.get_finished_spans()
    assert seen == [TRACE_ID], "the handler saw the gateway's trace"
    assert span.name == "process tg.p.{partition}.{kind}.{chat_id}" and span.kind is SpanKind.CONSUMER
    assert span.context.trace_id == TRACE_ID and span.parent.span_id == PARENT_SPAN_ID
    assert span.attributes["messaging.consumer.group.name"].startswith("dispatcher-p")
    assert span.attributes["imagebot.chat_key"] == "31"
    assert span.attributes["nats.jetstream.num_delivered"] == 1
