"""kill -9 of the dispatcher replica that owns the partitions, while many users send /start steadily."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from tests.support.chaos_stack import BOT_ID, FAST_FAILOVER, add_dispatcher_replica, dispatcher_logs, health, health_url
from tests.support.chat_load import BotAnswers, SteadyStarts, UsersClient, missing_and_extra
from tests.support.handled import never_handled
from tests.support.processes import ServiceProcess
from tests.support.stack import STACK_TOKEN, Stack, start_stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]

USERS = [71_000 + i for i in range(100)]
PERIOD = 4.0  # 25 updates/s: under the 30 messages/s the bot may send in all (TELEGRAM_GLOBAL_RATE)
LOAD_SECONDS = 36.0
KILLS = 3
KILL_EVERY = 10.0  # seconds of load between kills (the killed replica is restarted in between)
TELEGRAM_LATENCY = 0.25  # seconds each sendMessage answer takes, like the real API: handlers are in flight
REDELIVERY_SETTLE = float(FAST_FAILOVER["CONSUMER_ACK_WAIT"]) + 1.0  # a repeat comes after ack_wait


@dataclass
class Kill:
    name: str
    at: float
    partitions_owned: int
    unacked_right_after: int


@pytest.fixture
async def stack(nats_url: str, js: JetStreamContext) -> AsyncIterator[Stack]:
    running = start_stack(nats_url, extra_env=FAST_FAILOVER)
    yield running
    running.stop()


async def unacked_updates(js: JetStreamContext) -> int:
    """Messages delivered to some replica and not yet acknowledged, over every partition consumer."""
    return sum(info.num_ack_pending for info in await js.consumers_info(subjects.UPDATES_STREAM))


async def kill_the_owner(replicas: list[ServiceProcess], js: JetStreamContext) -> Kill:
    """SIGKILL the replica that owns most partitions, note what was unacked, and start it again."""
    victim = max(replicas, key=lambda r: len(health(r)["partitions_owned"]))
    owned = len(health(victim)["partitions_owned"])
    victim.kill()
    kill = Kill(victim.name, time.time(), owned, await unacked_updates(js))
    victim.start()  # the same configuration, a new process (a pod restarted by its controller)
    await asyncio.to_thread(victim.wait_http_ok, f"{health_url(victim)}/readyz", 30)
    return kill


async def test_sigkilled_dispatchers_lose_no_acknowledged_update_and_repeat_only_what_was_in_flight(
    stack: Stack, js: JetStreamContext, figures: dict
):
    """Injects: a second dispatcher replica; Telegram answering every sendMessage after 250 ms (so handlers are
    mid-call when killed); 100 users each sending /start every 4 s for 36 s (25 updates/s); three times, 10 s
    apart, SIGKILL of the replica owning the most partitions, which is then started again.
    Asserts: every update the gateway acknowledged to the Telegram emulator was handled (its `handled_updates`
    record, or aiogram's "is handled" log line); every /start got an answer; answers beyond one per /start are
    no more than the updates delivered and unacknowledged right after the kills; afterwards the two replicas
    together own every partition."""
    second = add_dispatcher_replica(stack)
    replicas = [stack.dispatcher, second]
    await stack.user.fault("sendMessage", "timeout", count=1_000_000, delay=TELEGRAM_LATENCY, execute=True)
    client = UsersClient(stack.telegram.url, STACK_TOKEN)
    answers = BotAnswers(client)
    load = SteadyStarts(client, USERS, period=PERIOD, duration=LOAD_SECONDS).start()
    kills: list[Kill] = []
    try:
        for round_number in range(1, KILLS + 1):
            wanted = round_number * KILL_EVERY * len(USERS) / PERIOD
            await wait_until(lambda n=wanted: len(load.sent) >= n, timeout=KILL_EVERY * 3, message="load running")
            kills.append(await kill_the_owner(replicas, js))
        await load.wait()
        load_ended = time.monotonic()
        sends = load.sends_per_user()

        async def everyone_answered() -> bool:
            await answers.refresh()
            return not missing_and_extra(sends, answers)[0]

        await wait_until(everyone_answered, timeout=60, interval=0.5, message="an answer to every /start")
        drained_s = time.monotonic() - load_ended
        await asyncio.sleep(REDELIVERY_SETTLE)  # so late repeats are counted too
        await answers.refresh()
        webhook = await client.webhook()
        acknowledged = {d["update_id"] for d in webhook["delivered"]}
        lost, unrecorded = await never_handled(js, BOT_ID, acknowledged, dispatcher_logs(stack))
        owned = [set(health(r)["partitions_owned"]) for r in replicas]
        partitions = health(replicas[0])["partitions"]
    finally:
        load.stop()
        await client.aclose()

    missing, extra = missing_and_extra(sends, answers)
    duplicates = sum(extra.values())
    in_flight = sum(k.unacked_right_after for k in kills)
    figures.update(
        users=len(USERS),
        kills=len(kills),
        updates_sent=len(load.sent),
        acknowledged=len(acknowledged),
        handled=len(acknowledged - lost),
        lost=len(lost),
        handled_but_unrecorded=len(unrecorded),
        duplicates=duplicates,
        unacked_right_after_each_kill=[k.unacked_right_after for k in kills],
        partitions_owned_by_each_victim=[k.partitions_owned for k in kills],
        all_answered_after_load_end_s=round(drained_s, 2),
        webhook_failed_attempts=webhook["failed_attempts"],
        emulator_errors=load.errors,
    )
    assert load.errors == 0
    assert {s.update_id for s in load.sent} == acknowledged, "the emulator delivered every update (none expired)"
    assert lost == set(), f"acknowledged but never handled: {sorted(lost)[:20]}"
    assert missing == {}
    assert duplicates <= in_flight, f"{duplicates} repeated answers, but only {in_flight} updates were in flight"
    assert owned[0] | owned[1] == set(range(partitions)) and not owned[0] & owned[1]
