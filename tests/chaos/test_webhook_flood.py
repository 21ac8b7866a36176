"""50,000 webhook deliveries as fast as the gateway takes them, into a stream capped at 5,000 waiting updates."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from tests.support.chaos_stack import BOT_ID, dispatcher_logs, services
from tests.support.chat_load import BotAnswers, UsersClient
from tests.support.flood import flood
from tests.support.handled import never_handled
from tests.support.nats_server import NatsServer
from tests.support.proc_stats import MIB, ProcessSampler
from tests.support.stack import STACK_TOKEN, STACK_WEBHOOK_SECRET, Stack, start_stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(360)]

UPDATES = 50_000
QUEUE_SIZE = 5_000
USERS = [75_000 + i for i in range(500)]
FIRST_UPDATE_ID = 50_000_000
CONNECTIONS = 64
# The flood measures our pipeline, not Telegram's pacing: the bot may answer as fast as it can.
UNPACED = {"TELEGRAM_CHAT_RATE": "100000", "TELEGRAM_CHAT_BURST": "100000", "TELEGRAM_GLOBAL_RATE": "100000"}
# Bounds on resident memory during the flood, several times what was measured (docs/reliability.md):
# an unbounded buffer of 50k updates would blow through them.
RSS_LIMIT_MIB = {"gateway": 300, "dispatcher": 400, "imagegen": 300}


@pytest.fixture
async def stack(nats_url: str, js: JetStreamContext) -> AsyncIterator[Stack]:
    running = start_stack(nats_url, extra_env={"UPDATE_QUEUE_SIZE": str(QUEUE_SIZE), **UNPACED})
    yield running
    running.stop()


def start_update(index: int) -> dict:
    user = USERS[index % len(USERS)]
    chat = {"id": user, "type": "private", "first_name": f"U{user}"}
    sender = {"id": user, "is_bot": False, "first_name": f"U{user}", "language_code": "en"}
    message = {"message_id": 10_000 + index, "from": sender, "chat": chat, "date": int(time.time()), "text": "/start"}
    return {"update_id": FIRST_UPDATE_ID + index, "message": message}


async def register_users(client: UsersClient) -> None:
    """Each user writes to the bot once through the emulator (Telegram only lets a bot answer known chats)."""
    gate = asyncio.Semaphore(50)

    async def one(user: int) -> None:
        async with gate:
            await client.send_text(user, "/start", first_name=f"U{user}")

    await asyncio.gather(*(one(user) for user in USERS))
    answers = BotAnswers(client)

    async def all_answered() -> bool:
        await answers.refresh()
        return all(answers.count(user) for user in USERS)

    await wait_until(all_answered, timeout=60, interval=0.5, message="every user answered once")


def nats_server_figures(server: NatsServer) -> dict[str, float]:
    """The server's own view (monitoring /varz): resident memory now and JetStream's stored bytes."""
    varz = httpx.get(f"http://127.0.0.1:{server.monitor_port}/varz", timeout=5).json()
    return {
        "rss_mib": round(varz["mem"] / MIB, 1),
        "jetstream_stored_mib": round(varz["jetstream"]["stats"]["storage"] / MIB, 1),
    }


async def sample_backlog(probe: Callable[[], Awaitable[bool]]) -> None:
    """Runs `probe` (which records the stream's depth) twice a second until cancelled."""
    while True:
        await probe()
        await asyncio.sleep(0.5)


async def test_a_flood_of_50000_updates_is_pushed_back_with_503_and_every_acknowledged_one_is_handled(
    stack: Stack, js: JetStreamContext, nats_server: NatsServer, figures: dict
):
    """Injects: 500 users known to the emulator; then 50,000 /start updates from them POSTed straight to
    /webhook, 64 keep-alive connections, no retries; UPDATE_QUEUE_SIZE=5000.
    Asserts: every answer is 200 or 503 (no other status, no dropped connection); the full stream pushed back
    (some 503s, each with Retry-After); the peak resident memory of gateway, dispatcher and imagegen stays under
    fixed bounds; the stream drains, and every update answered 200 was handled (its `handled_updates` record,
    or aiogram's "is handled" log line)."""
    client = UsersClient(stack.telegram.url, STACK_TOKEN)
    try:
        await register_users(client)
    finally:
        await client.aclose()
    updates = [start_update(i) for i in range(UPDATES)]
    headers = {"X-Telegram-Bot-Api-Secret-Token": STACK_WEBHOOK_SECRET}
    pids = {p.name: p.pid for p in services(stack)}
    backlog: list[int] = []

    async def drained() -> bool:
        backlog.append((await js.stream_info(subjects.UPDATES_STREAM)).state.messages)
        return backlog[-1] == 0

    async with ProcessSampler(pids) as processes:
        sampling = asyncio.create_task(sample_backlog(drained))
        result = await flood(f"{stack.gateway_url}/webhook", updates, headers, connections=CONNECTIONS)
        sampling.cancel()
        flood_ended = time.monotonic()
        await wait_until(drained, timeout=240, interval=1.0, message="the dispatcher drained the stream")
        drained_s = time.monotonic() - flood_ended
    lost, unrecorded = await never_handled(js, BOT_ID, result.acknowledged, dispatcher_logs(stack))
    nats_memory = nats_server_figures(nats_server)

    peaks = processes.figures()
    figures.update(
        updates_posted=result.sent,
        seconds=round(result.seconds, 2),
        requests_per_s=round(result.rate()),
        statuses=dict(Counter(result.statuses)),
        acknowledged=len(result.acknowledged),
        refused_503=len(result.refused),
        refused_without_retry_after=result.retry_after_missing,
        connection_errors=result.connection_errors,
        queue_size=QUEUE_SIZE,
        peak_backlog=max(backlog),
        stream_drained_after_flood_s=round(drained_s, 2),
        handled_per_s=round(len(result.acknowledged) / (result.seconds + drained_s)),
        lost=len(lost),
        handled_but_unrecorded=len(unrecorded),
        processes=peaks,
        nats_server=nats_memory,
    )
    assert set(result.statuses) <= {200, 503}, result.statuses
    assert result.connection_errors == 0
    assert result.refused and result.retry_after_missing == 0, "the full stream pushed back with Retry-After"
    assert lost == set(), f"{len(lost)} acknowledged updates never handled, e.g. {sorted(lost)[:10]}"
    for name, limit in RSS_LIMIT_MIB.items():
        assert peaks[name]["vm_hwm_mib"] < limit, f"{name} peaked at {peaks[name]['vm_hwm_mib']} MiB"
