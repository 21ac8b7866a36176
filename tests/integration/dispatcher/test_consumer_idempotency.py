"""At-least-once with idempotency: a handled update id (or event id) is acknowledged, never handled twice."""

from __future__ import annotations

import time

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from imagebot_common.messages.v1 import EVENT_TYPE_HEADER, IMAGE_RESULT_EVENT
from imagebot_common.nats import subjects
from tests.integration.dispatcher.consumer_support import (
    BOT_ID,
    Replicas,
    create_updates_stream,
    options,
    publish_update,
    replicas_fixture,  # noqa: F401 - the `replicas` fixture
)
from tests.support.conversation_double import ScriptedConversation
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_the_same_update_id_delivered_twice_is_handled_once(js: JetStreamContext, replicas: Replicas):
    """A Telegram retry after the stream's dedup window arrives as a new message with the same update_id."""
    await create_updates_stream(js, partitions=2)
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation)

    await publish_update(js, 77, 1, update_id=5001)
    await wait_until(lambda: conversation.handled[77] == [1], message="first copy handled")
    await publish_update(js, 77, 1, update_id=5001, msg_id="retry-after-the-dedup-window")
    await wait_until(lambda: engine.stats.duplicates == 1, message="second copy recognised")

    assert conversation.attempts[5001] == 1
    assert conversation.read_aheads[5001] == [("read ahead", 5001)], "the duplicate's handler never ran"
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 0, "the duplicate was acked too"
    kv = await js.key_value(subjects.HANDLED_UPDATES_BUCKET)
    assert (await kv.get(f"{BOT_ID}.5001")).value == b"handled"
    assert (await js.stream_info(f"KV_{subjects.HANDLED_UPDATES_BUCKET}")).config.max_age >= 25 * 3600


async def test_a_fresh_update_s_first_copy_runs_without_asking_the_registry_and_is_still_recorded(
    js: JetStreamContext, nc: Client, replicas: Replicas
):
    """Its date proves the stream's duplicate window would have refused it, had an earlier copy been stored; a
    copy stored later than half the window after its date (a retry the window forgot) is asked about."""
    await create_updates_stream(js, partitions=2)
    asked: list[str] = []

    async def note_ask(msg: Msg) -> None:
        asked.append(msg.subject.rsplit(".", 1)[-1])

    stream = f"KV_{subjects.HANDLED_UPDATES_BUCKET}"  # the registry's direct gets, seen from beside the server
    await nc.subscribe(f"$JS.API.DIRECT.GET.{stream}.$KV.{subjects.HANDLED_UPDATES_BUCKET}.>", cb=note_ask)
    await nc.flush()
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation)

    await publish_update(js, 79, 1, update_id=5201, date=int(time.time()))
    await wait_until(lambda: conversation.handled[79] == [1], message="fresh update handled")
    await nc.flush()
    assert asked == [], "the first copy ran without asking"
    kv = await js.key_value(subjects.HANDLED_UPDATES_BUCKET)

    async def recorded() -> bool:
        try:
            return (await kv.get(f"{BOT_ID}.5201")).value == b"handled"
        except KeyNotFoundError:
            return False

    await wait_until(recorded, message="recorded for later copies")
    asked.clear()  # recorded() itself asks with direct gets
    await publish_update(js, 79, 1, update_id=5201, msg_id="retry-after-the-dedup-window", date=int(time.time()) - 7200)
    await wait_until(lambda: engine.stats.duplicates == 1, message="the old-dated copy recognised")
    await nc.flush()

    assert asked == ["5201"], "the old-dated copy was asked about"
    assert conversation.attempts[5201] == 1
    assert conversation.read_aheads[5201] == [("read ahead", 5201)]


async def test_an_update_s_read_ahead_goes_to_its_first_attempt_and_a_retry_reads_afresh(
    js: JetStreamContext, replicas: Replicas
):
    await create_updates_stream(js, partitions=2)
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation, options(handler_attempts=3))

    await publish_update(js, 78, 1, "fail:always", update_id=5101)
    await wait_until(lambda: engine.stats.dead_lettered == 1, message="dead-lettered after 3 attempts")

    assert conversation.read_aheads[5101] == [("read ahead", 5101), None, None]


async def test_an_event_with_an_already_handled_msg_id_is_skipped(js: JetStreamContext, replicas: Replicas):
    await create_updates_stream(js, partitions=2, duplicate_window=0.5)
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation)
    headers = {EVENT_TYPE_HEADER: IMAGE_RESULT_EVENT, subjects.MSG_ID_HEADER: "result:job-1"}

    await js.publish(subjects.event_subject(88), b'{"job_id":"job-1"}', headers=headers)
    await wait_until(lambda: len(conversation.events) == 1, message="event handled")

    async def republished_past_the_dedup_window() -> bool:
        ack = await js.publish(subjects.event_subject(88), b'{"job_id":"job-1"}', headers=headers)
        return not ack.duplicate

    await wait_until(republished_past_the_dedup_window, timeout=5, interval=0.2, message="stored again")
    await wait_until(lambda: engine.stats.duplicates == 1, message="second copy recognised")
    assert len(conversation.events) == 1
    event_type, payload, seen_headers = conversation.events[0]
    assert (event_type, payload) == (IMAGE_RESULT_EVENT, b'{"job_id":"job-1"}')
    assert seen_headers[subjects.MSG_ID_HEADER] == "result:job-1"
