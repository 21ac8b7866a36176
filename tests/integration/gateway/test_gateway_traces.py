"""The gateway starts each user request's trace and hands it on in the NATS headers."""

from __future__ import annotations

import pytest

from imagebot_emulators.otlp import OtlpReceiver
from tests.integration.gateway.test_webhook_intake import SECRET, message_update, post, stored_updates
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_a_webhook_delivery_is_a_server_span_with_a_producer_child_whose_context_travels_with_the_update(
    start_gateway, js
):
    with OtlpReceiver() as otlp:
        gateway = start_gateway(**{k.lower(): v for k, v in otlp.env().items()})
        assert (await post(f"{gateway.base_url}/webhook", message_update(31, chat_id=9), SECRET)).status_code == 200

        spans = await wait_until(lambda: len(otlp.spans) >= 2 and otlp.spans, timeout=10)

    server = next(s for s in spans if s.name == "POST /webhook")
    producer = next(s for s in spans if s.name == "send tg.in.upd.{chat_id}")
    assert server.service == producer.service == "gateway"
    assert producer.parent_span_id == server.span_id
    assert producer.trace_id == server.trace_id
    assert producer.attributes["messaging.system"] == "nats"
    assert producer.attributes["messaging.destination.name"] == "tg.in.upd.9"
    (_, headers, _) = (await stored_updates(js))[0]
    assert headers["traceparent"].split("-")[1] == server.trace_id
    assert all("TESTtoken" not in s.raw and "test-secret" not in s.raw for s in spans)


async def test_with_nothing_exported_a_stored_update_still_carries_an_unsampled_trace_context(start_gateway, js):
    # No OTLP endpoint: spans are not recorded, and the publish makes no PRODUCER span (the hot path's saving),
    # but the update still carries a trace id for the dispatcher's log lines, marked not sampled.
    gateway = start_gateway()
    assert (await post(f"{gateway.base_url}/webhook", message_update(32, chat_id=9), SECRET)).status_code == 200

    (_, headers, _) = (await stored_updates(js))[0]
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 0x01 == 0, "the sampled bit is off"
    assert int(trace_id, 16) != 0 and int(span_id, 16) != 0
