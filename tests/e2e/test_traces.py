"""SREs follow one user request in Jaeger: one trace from the webhook to the delivered photo, across all
three services, with the expected parent/child structure (spans collected by an in-test OTLP receiver)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from imagebot_emulators.otlp import OtlpReceiver, ReceivedSpan
from tests.e2e.test_picture_flow import make_a_picture
from tests.support.stack import (
    STACK_CALLBACK_TOKEN,
    STACK_KIE_KEY,
    STACK_TOKEN,
    STACK_WEBHOOK_SECRET,
    Stack,
    start_stack,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def traced(nats_url: str, js) -> Iterator[tuple[Stack, OtlpReceiver]]:
    with OtlpReceiver() as otlp:
        stack = start_stack(nats_url, extra_env=otlp.env())
        yield stack, otlp
        stack.stop()


def chain_to_root(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = [span]
    while chain[-1].parent_span_id and chain[-1].parent_span_id in by_id:
        chain.append(by_id[chain[-1].parent_span_id])
    return chain


async def test_one_picture_request_is_one_trace_from_the_webhook_to_send_photo(traced):
    stack, otlp = traced
    await make_a_picture(stack)

    def complete_trace() -> list[ReceivedSpan] | None:
        """The sendPhoto span's trace, once every span up to the webhook has arrived."""
        send_photo = next((s for s in otlp.spans if s.name == "POST sendPhoto"), None)
        if send_photo is None:
            return None
        trace = [s for s in otlp.spans if s.trace_id == send_photo.trace_id]
        chain = chain_to_root(send_photo, {s.span_id: s for s in trace})
        called_back = any(s.name == "POST /callbacks/kie" for s in trace)
        return trace if chain[-1].name == "POST /webhook" and called_back else None

    trace = await wait_until(complete_trace, timeout=20, message="the whole trace of the picture request")
    by_id = {s.span_id: s for s in trace}
    send_photo = next(s for s in trace if s.name == "POST sendPhoto")

    assert {s.service for s in trace} == {"gateway", "dispatcher", "imagegen"}
    assert [f"{s.service}:{s.name}" for s in reversed(chain_to_root(send_photo, by_id))] == [
        "gateway:POST /webhook",
        "gateway:send tg.in.upd.{chat_id}",
        "dispatcher:process tg.p.{partition}.{kind}.{chat_id}",
        "dispatcher:handle callback_query",
        "dispatcher:send img.jobs",
        "imagegen:process img.jobs",
        "imagegen:send tg.in.evt.{chat_id}",
        "dispatcher:process tg.p.{partition}.{kind}.{chat_id}",
        "dispatcher:POST sendPhoto",
    ]
    handled = next(s for s in trace if s.name == "handle callback_query")
    assert handled.attributes["aiogram.handler"].startswith("conversation.routers.")
    job = next(s for s in trace if s.name == "process img.jobs")
    create_task = next(s for s in trace if s.name == "POST createTask")
    assert create_task.parent_span_id == job.span_id
    assert send_photo.attributes["url.template"] == "/bot{token}/sendPhoto"
    callback = next(s for s in trace if s.name == "POST /callbacks/kie")  # Kie's asynchronous hop joins too
    assert callback.parent_span_id == job.span_id
    assert any(s.name == "process kie.callbacks" and s.parent_span_id for s in trace)


async def test_every_service_exposes_prometheus_metrics_with_the_promised_families(traced):
    stack, otlp = traced
    await make_a_picture(stack)

    families: dict[str, set[str]] = {}
    async with httpx.AsyncClient() as client:
        for service, url in (
            ("gateway", stack.gateway_url),
            ("dispatcher", stack.dispatcher_url),
            ("imagegen", stack.imagegen_url),
        ):
            text = (await client.get(f"{url}/metrics")).text
            families[service] = {family.name for family in text_string_to_metric_families(text)}

    assert {
        "imagebot_gateway_webhook_ack_duration_seconds",
        "imagebot_gateway_updates",
    } <= families["gateway"]
    assert {
        "imagebot_dispatcher_handler_duration_seconds",
        "imagebot_dispatcher_updates_handled",
        "imagebot_dispatcher_duplicates",
        "imagebot_dispatcher_redeliveries",
        "imagebot_dispatcher_consumer_pending",
        "imagebot_dispatcher_telegram_retry_after",
    } <= families["dispatcher"]
    assert {
        "imagebot_imagegen_jobs_in_flight",
        "imagebot_imagegen_generation_duration_seconds",
        "imagebot_imagegen_kie_errors",
    } <= families["imagegen"]
    secrets = (STACK_TOKEN.split(":")[1], STACK_WEBHOOK_SECRET, STACK_KIE_KEY, STACK_CALLBACK_TOKEN)
    assert not [s for s in otlp.spans if any(secret in s.raw for secret in secrets)]
