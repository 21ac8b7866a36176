"""NATS stopped for 10 s under load: Telegram is told to retry, nothing is lost, no service restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext

from tests.support.chaos_stack import BOT_ID, FAST_FAILOVER, all_ready, dispatcher_logs, services
from tests.support.chat_load import BotAnswers, SteadyStarts, UsersClient, missing_and_extra
from tests.support.handled import never_handled
from tests.support.nats_server import NatsServer
from tests.support.stack import STACK_TOKEN, STACK_WEBHOOK_SECRET, Stack, start_stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(240)]

USERS = [73_000 + i for i in range(60)]
PROBE_USER = 73_999  # a user of its own for the direct webhook probe, so its update never skews the counts
PERIOD = 3.0  # 20 updates/s
LOAD_SECONDS = 30.0
OUTAGE_AFTER = 8.0
OUTAGE_SECONDS = 10.0


@pytest.fixture
async def stack(nats_url: str, js: JetStreamContext) -> AsyncIterator[Stack]:
    running = start_stack(nats_url, extra_env=FAST_FAILOVER)
    yield running
    running.stop()


def probe_update(update_id: int) -> dict:
    chat = {"id": PROBE_USER, "type": "private", "first_name": "Probe"}
    sender = {"id": PROBE_USER, "is_bot": False, "first_name": "Probe"}
    message = {"message_id": 1, "from": sender, "chat": chat, "date": int(time.time()), "text": "/start"}
    return {"update_id": update_id, "message": message}


async def test_a_ten_second_nats_outage_loses_nothing_and_every_service_reconnects_by_itself(
    stack: Stack, nats_server: NatsServer, js: JetStreamContext, figures: dict
):
    """Injects: 60 users each sending /start every 3 s for 30 s (20 updates/s); 8 s in, nats-server is stopped
    for 10 s (same port and store when it comes back).
    Asserts: during the outage a webhook POST gets 503 with Retry-After; the Telegram emulator recorded failed
    deliveries and retried them; once NATS is back every /start sent through the emulator is answered and every
    acknowledged update was handled (a `handled_updates` record, or aiogram's "is handled" log line when the
    record write met the outage); gateway, dispatcher and imagegen keep their PIDs and are ready."""
    pids = {p.name: p.pid for p in services(stack)}
    client = UsersClient(stack.telegram.url, STACK_TOKEN)
    answers = BotAnswers(client)
    probe_user_start = (await client.send_text(PROBE_USER, "/start"))["update_id"]  # the probe user exists
    load = SteadyStarts(client, USERS, period=PERIOD, duration=LOAD_SECONDS).start()
    try:
        await wait_until(lambda: len(load.sent) >= OUTAGE_AFTER * len(USERS) / PERIOD, timeout=30)
        nats_server.stop()
        stopped_at = time.monotonic()
        probe = await post_during_outage(stack)
        await asyncio.sleep(OUTAGE_SECONDS - (time.monotonic() - stopped_at))  # the outage itself
        nats_server.start()
        back_at = time.time()
        await load.wait()
        sends = load.sends_per_user()

        async def everyone_answered() -> bool:
            await answers.refresh()
            return not missing_and_extra(sends, answers)[0]

        await wait_until(everyone_answered, timeout=90, interval=0.5, message="an answer to every /start")
        all_answered_s = time.time() - back_at
        webhook = await client.webhook()
        acknowledged = {d["update_id"] for d in webhook["delivered"]} - {probe_user_start}
        lost, unrecorded = await never_handled(js, BOT_ID, acknowledged, dispatcher_logs(stack))
        await wait_until(lambda: all_ready(stack), timeout=20, message="every service ready again")
    finally:
        load.stop()
        await client.aclose()

    missing, extra = missing_and_extra(sends, answers)
    retried = [d for d in webhook["delivered"] if d["attempts"] > 1]
    first_after = min((d["time"] for d in retried), default=None)
    figures.update(
        users=len(USERS),
        outage_s=OUTAGE_SECONDS,
        updates_sent=len(load.sent),
        acknowledged=len(acknowledged),
        lost=len(lost),
        handled_but_unrecorded=len(unrecorded),
        duplicates=sum(extra.values()),
        webhook_failed_attempts=webhook["failed_attempts"],
        updates_delivered_after_retries=len(retried),
        most_attempts_for_one_update=max((d["attempts"] for d in webhook["delivered"]), default=0),
        probe_during_outage={"status": probe["status"], "retry_after": probe["retry_after"]},
        first_retried_delivery_after_nats_back_s=round(first_after - back_at, 2) if first_after else None,
        all_answered_after_nats_back_s=round(all_answered_s, 2),
        emulator_errors=load.errors,
    )
    assert probe["status"] == 503 and probe["retry_after"]
    assert webhook["failed_attempts"] > 0 and retried, "Telegram was refused and retried"
    assert any("503" in e["message"] for e in webhook["last_errors"]), webhook["last_errors"]
    assert load.errors == 0
    assert {s.update_id for s in load.sent} <= acknowledged, "every update was delivered in the end"
    assert lost == set(), f"acknowledged but never handled: {sorted(lost)[:20]}"
    assert missing == {}
    assert {p.name: p.pid for p in services(stack)} == pids
    assert all(p.returncode is None for p in services(stack))


async def post_during_outage(stack: Stack) -> dict:
    """A Telegram-like delivery straight to the gateway while NATS is down: its status and Retry-After."""
    update = probe_update(9_000_001)
    headers = {"X-Telegram-Bot-Api-Secret-Token": STACK_WEBHOOK_SECRET}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{stack.gateway_url}/webhook", json=update, headers=headers)
    return {"status": response.status_code, "retry_after": response.headers.get("Retry-After")}
