"""AckedPublisher answers like nats-py's js.publish, against a real nats-server: the same PubAck, the same errors."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.errors import APIError, NoStreamResponseError

from imagebot_common.nats.acked_publish import AckedPublisher
from tests.support.nats_server import NatsServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def stream(js: JetStreamContext) -> str:
    await js.add_stream(StreamConfig(name="ACKED", subjects=["acked.>"], duplicate_window=60))
    return "ACKED"


async def test_a_stored_message_is_acknowledged_with_its_stream_sequence_like_js_publish(
    nc: Client, js: JetStreamContext, stream: str
):
    publisher = AckedPublisher(nc)

    ours = await publisher.publish("acked.a", b"one", stream=stream, headers={"Nats-Msg-Id": "m1"})
    theirs = await js.publish("acked.a", b"two", stream=stream, headers={"Nats-Msg-Id": "m2"})

    assert (ours.stream, ours.seq, bool(ours.duplicate)) == (stream, 1, False)
    assert theirs.seq == 2
    stored = await js.get_msg(stream, seq=1)
    assert stored.data == b"one" and stored.headers["Nats-Msg-Id"] == "m1"


async def test_a_repeated_message_id_is_acknowledged_as_a_duplicate(nc: Client, stream: str):
    publisher = AckedPublisher(nc)

    first = await publisher.publish("acked.a", b"x", stream=stream, headers={"Nats-Msg-Id": "same"})
    again = await publisher.publish("acked.a", b"x", stream=stream, headers={"Nats-Msg-Id": "same"})

    assert again.duplicate and again.seq == first.seq


async def test_many_concurrent_publishes_each_get_their_own_ack(nc: Client, stream: str):
    publisher = AckedPublisher(nc)

    acks = await asyncio.gather(*(publisher.publish(f"acked.{i % 7}", b"m", stream=stream) for i in range(500)))

    assert sorted(ack.seq for ack in acks) == list(range(1, 501))
    assert publisher.waiting == 0, "nothing left waiting"


async def test_a_subject_no_stream_takes_raises_no_stream_response(nc: Client):
    with pytest.raises(NoStreamResponseError):
        await AckedPublisher(nc).publish("nobody.takes.this", b"x", timeout=2)


async def test_a_full_stream_that_discards_new_messages_raises_the_servers_error_code(nc: Client, js: JetStreamContext):
    await js.add_stream(StreamConfig(name="TINY", subjects=["tiny.>"], max_msgs=1, discard=DiscardPolicy.NEW))
    publisher = AckedPublisher(nc)
    await publisher.publish("tiny.a", b"1")

    with pytest.raises(APIError) as refused:
        await publisher.publish("tiny.a", b"2")
    assert refused.value.err_code == 10077  # maximum messages exceeded, as js.publish reports it


async def test_the_wrong_expected_stream_is_refused(nc: Client, stream: str):
    with pytest.raises(APIError):
        await AckedPublisher(nc).publish("acked.a", b"x", stream="NOT_ACKED")


async def test_an_ack_that_never_comes_times_out_and_leaves_nothing_waiting(nc: Client):
    listener = await nc.subscribe("silent.listener")  # takes the message, never answers
    publisher = AckedPublisher(nc)

    with pytest.raises(NatsTimeoutError):
        await publisher.publish("silent.listener", b"x", timeout=0.2)
    assert publisher.waiting == 0
    await listener.unsubscribe()


async def test_acks_keep_coming_after_the_server_restarts():
    server = NatsServer()
    server.start()
    try:
        reconnected = asyncio.Event()

        async def on_reconnect() -> None:
            reconnected.set()

        client = await nats.connect(
            server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1, reconnected_cb=on_reconnect
        )
        js = client.jetstream()
        await js.add_stream(StreamConfig(name="RESTART", subjects=["restart.>"]))
        publisher = AckedPublisher(client)
        assert (await publisher.publish("restart.a", b"before")).seq == 1

        server.restart()  # same port, same store: the client reconnects and restores the inbox subscription
        await asyncio.wait_for(reconnected.wait(), timeout=10)

        assert (await publisher.publish("restart.a", b"after", timeout=5)).seq == 2
        await client.close()
    finally:
        server.cleanup()
