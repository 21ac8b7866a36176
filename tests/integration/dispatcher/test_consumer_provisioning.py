"""Consumers are provisioned idempotently; the engine waits for the gateway's stream; health sees dead tasks."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from imagebot_dispatcher.consumer import provisioning
from tests.integration.dispatcher.consumer_support import (
    FAST,
    Replicas,
    create_updates_stream,
    options,
    publish_update,
    replicas_fixture,  # noqa: F401 - the `replicas` fixture
)
from tests.support.conversation_double import ScriptedConversation
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def consumer_info(nc: Client, name: str) -> dict:
    reply = await nc.request(f"$JS.API.CONSUMER.INFO.{subjects.UPDATES_STREAM}.{name}", b"", timeout=2)
    return json.loads(reply.data)


async def test_provisioning_partition_consumers_twice_is_idempotent_and_applies_changed_limits(
    nc: Client, js: JetStreamContext
):
    await create_updates_stream(js, partitions=16)

    names = await provisioning.ensure_partition_consumers(nc, 16, FAST)
    again = await provisioning.ensure_partition_consumers(nc, 16, FAST)
    await provisioning.ensure_partition_consumers(nc, 16, options(max_ack_pending=100, ack_wait=10.0))

    assert names == again == [f"dispatcher-p{p:02d}" for p in range(16)]
    assert len(await js.consumers_info(subjects.UPDATES_STREAM)) == 16
    config = (await consumer_info(nc, "dispatcher-p07"))["config"]
    assert config["filter_subject"] == "tg.p.7.>"
    assert config["priority_policy"] == "pinned_client" and config["priority_groups"] == ["dispatcher"]
    assert config["ack_policy"] == "explicit" and "backoff" not in config
    assert config["max_ack_pending"] == 100 and config["ack_wait"] == 10 * 10**9


async def test_the_engine_waits_for_the_updates_stream_then_consumes(js: JetStreamContext, replicas: Replicas):
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation, options(stream_poll_interval=0.1), wait=False)
    await wait_until(lambda: engine.details()["state"] == "waiting for stream", message="waiting")
    assert engine.is_alive() and not engine.is_ready()

    await create_updates_stream(js, partitions=4)
    await engine.wait_running(timeout=10)
    await publish_update(js, 3, 1)

    await wait_until(lambda: conversation.handled[3] == [1], message="handled")
    assert engine.is_ready() and engine.details()["partitions"] == 4


async def test_a_dead_consumer_task_makes_the_engine_not_alive(js: JetStreamContext, replicas: Replicas):
    await create_updates_stream(js, partitions=2)
    engine = await replicas.start(ScriptedConversation())
    assert engine.is_alive()

    engine._tasks[0].cancel()  # what an unexpected crash of a pull loop looks like from outside

    await wait_until(lambda: not engine.is_alive(), message="reported dead")
    assert not engine.is_ready()


async def test_consumption_resumes_after_the_nats_server_restarts(
    js: JetStreamContext, replicas: Replicas, nats_server
):
    await create_updates_stream(js, partitions=2)
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation)
    await publish_update(js, 11, 1)
    await wait_until(lambda: conversation.handled[11] == [1], message="handled before the restart")

    nats_server.restart()  # same port and store: streams and consumers survive
    await wait_until(lambda: engine.is_ready(), timeout=15, message="reconnected")

    async def published() -> bool:
        try:
            return bool(await publish_update(js, 11, 2))
        except Exception:  # JetStream is still recovering, or this test's own connection is reconnecting
            return False

    await wait_until(published, timeout=15, interval=0.2, message="published after the restart")

    await wait_until(lambda: conversation.handled[11] == [1, 2], timeout=15, message="handled after the restart")
    assert engine.is_alive()


async def test_consumption_resumes_after_the_nats_server_was_frozen_and_thawed(
    js: JetStreamContext, replicas: Replicas, nats_server
):
    """nats.md gotcha 12: after SIGSTOP/SIGCONT stray timeouts must not kill a pull loop silently."""
    await create_updates_stream(js, partitions=2)
    conversation = ScriptedConversation()
    engine = await replicas.start(conversation)
    await publish_update(js, 12, 1)
    await wait_until(lambda: conversation.handled[12] == [1], message="handled before the freeze")

    os.kill(nats_server._proc.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(3)  # the freeze itself is the test condition: pulls, acks and pings time out meanwhile
    finally:
        os.kill(nats_server._proc.pid, signal.SIGCONT)

    async def published() -> bool:
        try:
            return bool(await publish_update(js, 12, 2))
        except Exception:
            return False

    await wait_until(published, timeout=15, interval=0.2, message="published after the thaw")
    await wait_until(lambda: conversation.handled[12] == [1, 2], timeout=15, message="handled after the thaw")
    assert engine.is_alive() and engine.is_ready()
