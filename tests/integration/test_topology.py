"""The JetStream topology is applied idempotently and behaves as the design needs (real nats-server)."""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, RetentionPolicy
from nats.js.errors import APIError

from imagebot_common.nats import subjects, topology

pytestmark = pytest.mark.integration


async def test_applying_the_updates_stream_twice_is_idempotent_and_updates_changed_limits(js: JetStreamContext):
    await topology.ensure_stream(js, topology.updates_stream(topology.UpdatesStreamLimits(max_msgs=10)))
    await topology.ensure_stream(js, topology.updates_stream(topology.UpdatesStreamLimits(max_msgs=10)))
    await topology.ensure_stream(js, topology.updates_stream(topology.UpdatesStreamLimits(max_msgs=20)))

    info = await js.stream_info(subjects.UPDATES_STREAM)
    assert info.config.max_msgs == 20
    assert info.config.retention == RetentionPolicy.WORK_QUEUE


async def test_updates_land_on_a_partitioned_subject_computed_from_the_chat_key(js: JetStreamContext):
    await topology.ensure_stream(js, topology.updates_stream(topology.UpdatesStreamLimits(partitions=4)))
    for chat in (42, -1001234567890, 7):
        await js.publish(subjects.update_subject(chat), b"{}", stream=subjects.UPDATES_STREAM)

    info = await js.stream_info(subjects.UPDATES_STREAM, subjects_filter=">")
    stored = sorted(info.state.subjects or {})
    assert all(s.startswith("tg.p.") for s in stored)
    assert {s.rsplit(".", 1)[1] for s in stored} == {"42", "-1001234567890", "7"}


async def test_a_full_updates_stream_refuses_new_messages_instead_of_dropping_old_ones(js: JetStreamContext):
    await topology.ensure_stream(js, topology.updates_stream(topology.UpdatesStreamLimits(max_msgs=2)))
    await js.publish(subjects.update_subject(1), b"1")
    await js.publish(subjects.update_subject(1), b"2")
    with pytest.raises(APIError) as refused:
        await js.publish(subjects.update_subject(1), b"3")
    assert "maximum messages" in str(refused.value)
    first = await js.get_msg(subjects.UPDATES_STREAM, seq=1)
    assert first.data == b"1"


async def test_the_same_msg_id_is_stored_once(js: JetStreamContext):
    await topology.ensure_stream(js, topology.updates_stream(topology.UpdatesStreamLimits()))
    headers = {subjects.MSG_ID_HEADER: subjects.update_msg_id(1, 100)}
    first = await js.publish(subjects.update_subject(5), b"x", headers=headers)
    second = await js.publish(subjects.update_subject(5), b"x", headers=headers)
    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq


async def test_buckets_and_object_stores_are_created_once_and_keep_their_data(js: JetStreamContext):
    kv = await topology.ensure_key_value(js, topology.leases_bucket(ttl=30))
    await kv.put("k", b"v")
    again = await topology.ensure_key_value(js, topology.leases_bucket(ttl=60))
    assert (await again.get("k")).value == b"v"
    assert (await js.stream_info("KV_leases")).config.max_age == 60


async def test_handled_updates_are_read_with_direct_gets_also_in_a_bucket_made_before_they_were(
    nc: Client, js: JetStreamContext
):
    config = topology.handled_updates_bucket()
    older = KeyValueConfig(bucket=config.bucket, history=config.history, ttl=config.ttl)  # as earlier releases made it
    await js.create_key_value(older)
    await (await js.key_value(config.bucket)).put("bot.1", b"handled")

    kv = await topology.ensure_key_value(js, config)
    requests = await nc.subscribe("$JS.API.>")  # sees the API requests the server answers

    assert (await kv.get("bot.1")).value == b"handled"
    request = await requests.next_msg(timeout=2)
    assert request.subject == f"$JS.API.DIRECT.GET.KV_{config.bucket}.$KV.{config.bucket}.bot.1"
    assert request.data == b"", "no JSON request to encode, no JSON answer to decode"


async def test_a_redelivered_update_is_still_a_duplicate_after_it_was_handled_and_removed(js: JetStreamContext):
    """Work-queue retention deletes acked messages; the dedup window must outlive them."""
    await topology.ensure_stream(js, topology.updates_stream(topology.UpdatesStreamLimits()))
    headers = {subjects.MSG_ID_HEADER: subjects.update_msg_id(1, 200)}
    await js.publish(subjects.update_subject(5), b"x", headers=headers)
    sub = await js.pull_subscribe(">", durable="probe", stream=subjects.UPDATES_STREAM)
    (msg,) = await sub.fetch(1, timeout=2)
    await msg.ack_sync()
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 0

    again = await js.publish(subjects.update_subject(5), b"x", headers=headers)
    assert again.duplicate
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 0
