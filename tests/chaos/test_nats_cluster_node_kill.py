"""A three-node JetStream cluster with every stream replicated three times: one node killed under load."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import nats
import pytest
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from tests.support.chaos_stack import (
    BOT_ID,
    FAST_FAILOVER,
    all_ready,
    assert_still_running,
    dispatcher_logs,
    exited,
    services,
)
from tests.support.chat_load import BotAnswers, SteadyStarts, UsersClient, missing_and_extra
from tests.support.handled import never_handled
from tests.support.nats_cluster import NatsCluster
from tests.support.stack import STACK_TOKEN, Stack, start_stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(240)]

USERS = [74_000 + i for i in range(60)]
PERIOD = 3.0  # 20 updates/s
LOAD_SECONDS = 24.0
KILL_AFTER = 8.0


async def consumer_states(js: JetStreamContext) -> list[dict]:
    """Per partition consumer: where it lives and what it holds (for the failure message)."""
    states = []
    for info in await js.consumers_info(subjects.UPDATES_STREAM):
        cluster = info.cluster
        states.append(
            {
                "name": info.name,
                "leader": cluster.leader if cluster else None,
                "replicas": [r.name for r in (cluster.replicas or [])] if cluster else [],
                "pending": info.num_pending,
                "ack_pending": info.num_ack_pending,
                "waiting": info.num_waiting,
            }
        )
    return states


_HANDLED_AT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*Update id=\d+ is handled\.", re.MULTILINE)


def longest_handling_pause(logs: list[str]) -> float:
    """The longest time between two updates handled one after the other: with ~20 updates/s coming in, the
    time the kill cost (the stream's election, during which nothing is stored, plus the consumers' takeover)."""
    stamps = sorted(datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f") for log in logs for at in _HANDLED_AT.findall(log))
    return max(((b - a).total_seconds() for a, b in itertools.pairwise(stamps)), default=0.0)


@pytest.fixture
def cluster() -> Iterator[NatsCluster]:
    with NatsCluster(3) as running:
        yield running


@pytest.fixture
async def cluster_js(cluster: NatsCluster) -> AsyncIterator[JetStreamContext]:
    client = await nats.connect(servers=cluster.urls.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    yield client.jetstream()
    await client.close()


@pytest.fixture
def stack(cluster: NatsCluster) -> Iterator[Stack]:
    running = start_stack(cluster.urls, extra_env={**FAST_FAILOVER, "NATS_REPLICAS": "3"})
    yield running
    running.stop()


async def test_killing_the_node_that_leads_the_updates_stream_loses_no_acknowledged_update(
    cluster: NatsCluster, stack: Stack, cluster_js: JetStreamContext, figures: dict
):
    """Injects: three nats-server nodes (n1..n3) in one cluster, all services given the three URLs and
    NATS_REPLICAS=3; 60 users each sending /start every 3 s for 24 s; 8 s in, SIGKILL of the node that leads
    the UPDATES stream.
    Asserts: UPDATES and handled_updates have 3 replicas; a new UPDATES leader is elected on a surviving node;
    every /start sent through the emulator is answered; every update the gateway acknowledged was handled (a
    `handled_updates` record, or aiogram's "is handled" log line when the record write met the election);
    no service exited or restarted (one that exits mid-run fails the run at once, named with its log tail, as
    it explains everything after it) and all are ready."""
    js = cluster_js
    updates_info = await js.stream_info(subjects.UPDATES_STREAM)
    handled_info = await js.stream_info(f"KV_{subjects.HANDLED_UPDATES_BUCKET}")
    pids = {p.name: p.pid for p in services(stack)}
    client = UsersClient(stack.telegram.url, STACK_TOKEN)
    answers = BotAnswers(client)
    load = SteadyStarts(client, USERS, period=PERIOD, duration=LOAD_SECONDS).start()
    try:
        await wait_until(lambda: len(load.sent) >= KILL_AFTER * len(USERS) / PERIOD, timeout=30)
        leader = (await js.stream_info(subjects.UPDATES_STREAM)).cluster.leader
        cluster.node(leader).kill()
        killed_at = time.monotonic()

        async def new_leader() -> str | None:
            try:  # this client may itself be reconnecting, and the API times out during the election
                found = (await asyncio.wait_for(js.stream_info(subjects.UPDATES_STREAM), 2)).cluster.leader
            except (NatsError, TimeoutError):
                return None
            return found if found and found != leader else None

        elected = await wait_until(new_leader, timeout=30, interval=0.1, message="a new UPDATES leader")
        elected_s = time.monotonic() - killed_at
        await load.wait()
        sends = load.sends_per_user()

        async def everyone_answered() -> bool:
            assert_still_running(stack)
            await answers.refresh()
            return not missing_and_extra(sends, answers)[0]

        try:
            await wait_until(everyone_answered, timeout=90, interval=0.5, message="an answer to every /start")
        except AssertionError as exc:
            hook = await client.webhook()
            webhook_state = {k: hook[k] for k in ("pending", "failed_attempts", "last_error_message")}
            raise AssertionError(
                f"{exc}\nexited services: {exited(stack)}\nwebhook: {webhook_state}"
                f"\nconsumers: {await consumer_states(js)}"
            ) from None
        all_answered_s = time.monotonic() - killed_at
        webhook = await client.webhook()
        acknowledged = {d["update_id"] for d in webhook["delivered"]}
        lost, unrecorded = await never_handled(js, BOT_ID, acknowledged, dispatcher_logs(stack))
        await wait_until(lambda: all_ready(stack), timeout=20, message="every service ready")
    finally:
        load.stop()
        await client.aclose()

    missing, extra = missing_and_extra(sends, answers)
    figures.update(
        nodes=3,
        replicas=updates_info.config.num_replicas,
        killed_node=leader,
        new_leader=elected,
        new_leader_after_s=round(elected_s, 2),
        users=len(USERS),
        updates_sent=len(load.sent),
        acknowledged=len(acknowledged),
        lost=len(lost),
        handled_but_unrecorded=len(unrecorded),
        duplicates=sum(extra.values()),
        webhook_failed_attempts=webhook["failed_attempts"],
        all_answered_after_kill_s=round(all_answered_s, 2),
        longest_handling_pause_s=round(longest_handling_pause(dispatcher_logs(stack)), 2),
        emulator_errors=load.errors,
    )
    assert updates_info.config.num_replicas == 3 and handled_info.config.num_replicas == 3
    assert load.errors == 0
    assert {s.update_id for s in load.sent} <= acknowledged, "every update was delivered in the end"
    assert lost == set(), f"acknowledged but never handled: {sorted(lost)[:20]}"
    assert missing == {}
    assert {p.name: p.pid for p in services(stack)} == pids
