"""Poison messages: bounded retries in-process, then a copy in DEAD_LETTERS and term(); other chats go on."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext

from imagebot_common.messages.v1 import EVENT_TYPE_HEADER
from imagebot_common.nats import subjects
from imagebot_common.redaction import redactor
from tests.integration.dispatcher.consumer_support import (
    TOKEN,
    Replicas,
    create_updates_stream,
    options,
    publish_chats,
    publish_update,
    replicas_fixture,  # noqa: F401 - the `replicas` fixture
    update_id_of,
)
from tests.support.conversation_double import ScriptedConversation
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def dead_letters(js: JetStreamContext, at_least: int = 1) -> list:
    """The dispatcher's dead letters once there are `at_least` of them (else an empty list)."""
    sub = await js.pull_subscribe(subjects.DLQ_DISPATCHER_POISON, stream=subjects.DEAD_LETTER_STREAM)
    try:
        letters = await sub.fetch(10, timeout=1)
    except TimeoutError:
        letters = []
    finally:
        await sub.unsubscribe()
    return letters if len(letters) >= at_least else []


async def test_a_poison_update_is_retried_then_dead_lettered_with_its_error_and_trace_while_other_chats_go_on(
    js: JetStreamContext, replicas: Replicas
):
    redactor.register(TOKEN)
    await create_updates_stream(js, partitions=1)  # one partition: the poison shares it with every other chat
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation, options(handler_attempts=3, retry_backoff=0.5))
    poison_chat = 666
    ack = await publish_update(
        js, poison_chat, 1, f"fail:cannot call https://api.telegram.org/bot{TOKEN}/sendMessage",
        headers={"traceparent": TRACEPARENT},
    )  # fmt: skip
    await publish_update(js, poison_chat, 2)
    await publish_chats(js, [100 + i for i in range(20)], per_chat=3)

    await wait_until(lambda: conversation.handled_count == 60, timeout=10, message="other chats handled")
    assert engine.stats.dead_lettered == 0, "other chats finished while the poison was still being retried"

    await wait_until(lambda: conversation.handled[poison_chat] == [2], timeout=10, message="the poison chat goes on")
    (letter,) = await wait_until(lambda: dead_letters(js), message="a dead letter")
    headers = letter.headers
    assert conversation.attempts[update_id_of(poison_chat, 1)] == 3
    assert headers[subjects.DLQ_ERROR_HEADER].startswith("RuntimeError: cannot call https://api.telegram.org/bot")
    assert TOKEN not in str(headers) and "***" in headers[subjects.DLQ_ERROR_HEADER]
    assert headers[subjects.DLQ_REASON_HEADER] == "handler_error"
    assert headers[subjects.DLQ_SUBJECT_HEADER].startswith("tg.p.0.upd.666")
    assert headers[subjects.DLQ_STREAM_HEADER] == subjects.UPDATES_STREAM
    assert headers[subjects.DLQ_STREAM_SEQ_HEADER] == str(ack.seq)
    assert headers["traceparent"].split("-")[1] == TRACE_ID
    assert b'"update_id"' in letter.data
    assert engine.stats.dead_lettered == 1
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 0, "terminated, not left behind"


async def test_a_handler_that_hangs_is_cut_off_by_the_handler_timeout_and_dead_lettered(
    js: JetStreamContext, replicas: Replicas
):
    await create_updates_stream(js, partitions=1)
    conversation = ScriptedConversation()
    await replicas.start(conversation, options(handler_attempts=2, handler_timeout=0.3))
    await publish_update(js, 1, 1, "sleep:60000")
    await publish_update(js, 1, 2)

    await wait_until(lambda: conversation.handled[1] == [2], timeout=10, message="the chat goes on")
    (letter,) = await wait_until(lambda: dead_letters(js), message="a dead letter")
    assert letter.headers[subjects.DLQ_ERROR_HEADER] == "handler timed out after 0.3s"


async def test_an_unparsable_update_an_untyped_event_and_an_unknown_kind_are_dead_lettered_without_a_handler(
    js: JetStreamContext, replicas: Replicas
):
    await create_updates_stream(js, partitions=1)
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation)
    await js.publish(subjects.update_subject(5), b"not json {", stream=subjects.UPDATES_STREAM)
    await js.publish(subjects.event_subject(5), b"{}", headers={subjects.MSG_ID_HEADER: "result:j1"})
    await js.publish("tg.in.typo.5", b"{}", stream=subjects.UPDATES_STREAM)  # lands on tg.p.0.typo.5
    await publish_update(js, 5, 1)

    await wait_until(lambda: conversation.handled[5] == [1], message="the chat goes on")
    letters = await wait_until(lambda: dead_letters(js, at_least=3), message="three dead letters")
    reasons = sorted(letter.headers[subjects.DLQ_REASON_HEADER] for letter in letters)
    assert reasons == ["unparsable", "unparsable", "unroutable"]
    assert any(EVENT_TYPE_HEADER in letter.headers[subjects.DLQ_ERROR_HEADER] for letter in letters)
    assert conversation.attempts == {update_id_of(5, 1): 1} and conversation.events == []
    assert engine.stats.handler_failures == 0


async def test_a_message_delivered_too_often_is_dead_lettered_without_running_its_handler(
    js: JetStreamContext, replicas: Replicas
):
    """Crash-loop guard: deliveries beyond max_deliveries mean the handler kills or freezes replicas."""
    await create_updates_stream(js, partitions=1)
    first = ScriptedConversation()
    engine_a = await replicas.start(first)
    await publish_update(js, 9, 1, "sleep:800")
    await wait_until(lambda: first.in_flight == 1, message="m1 running on A")
    await publish_update(js, 9, 2)
    await wait_until(lambda: engine_a.details()["held"] == 2, message="m2 queued on A")
    second = ScriptedConversation()
    await replicas.start(second, options(max_deliveries=1))

    await replicas.stop(engine_a)  # m2 goes back to the stream: its next delivery is the 2nd

    (letter,) = await wait_until(lambda: dead_letters(js), message="a dead letter")
    assert letter.headers[subjects.DLQ_REASON_HEADER] == "redelivered_too_often"
    assert letter.headers[subjects.DLQ_DELIVERIES_HEADER] == "2"
    assert second.attempts == {}
