"""`python -m imagebot_dispatcher` with the real conversation, fed from JetStream as the gateway would, answering
through the Telegram emulator: it serves users, survives a SIGKILLed replica with nobody left unanswered, and
exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from imagebot_common.update_routing import update_chat_key
from tests.integration.dispatcher.consumer_support import create_updates_stream
from tests.support.emulators import TelegramControl, TelegramEmulator
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess
from tests.support.shedding_nats import PASSWORD, SHED, SheddingNats, shed_until_gone, shedding_nats_fixture  # noqa: F401
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

FIRST_USER = 880_000_000


@pytest.fixture(scope="module")
def telegram() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
def token() -> str:
    return f"{secrets.randbelow(10**9) + 10**9}:AA{secrets.token_urlsafe(24)}"


class Dispatcher(ServiceProcess):
    def __init__(self, nats_url: str, telegram: TelegramEmulator, token: str, name: str):
        self.port = free_port()
        env = {
            "NATS_URL": nats_url,
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_API_URL": telegram.url,
            "HEALTH_HOST": "127.0.0.1",
            "HEALTH_PORT": str(self.port),
            "CONSUMER_ACK_WAIT": "3",
            "CONSUMER_PIN_TIMEOUT": "2",
            "TELEGRAM_CHAT_RATE": "1000",
            "TELEGRAM_CHAT_BURST": "100",
            "TELEGRAM_GLOBAL_RATE": "10000",
        }
        super().__init__("imagebot_dispatcher", env, name=f"dispatcher-{name}")
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        self.wait_http_ok(f"{self.url}/readyz", timeout=40)  # importing aiogram alone takes seconds


async def gateway_forwards(js: JetStreamContext, control: TelegramControl, bot_id: int, update_id: int) -> None:
    """What the gateway does with a webhook delivery: the chat's subject, dedup id, into UPDATES."""
    pending = await control._request("GET", "/updates")  # the emulator's undelivered updates
    update = next(item["update"] for item in pending if item["update_id"] == update_id)
    await js.publish(
        subjects.update_subject(update_chat_key(update)),
        json.dumps(update).encode(),
        headers={subjects.MSG_ID_HEADER: subjects.update_msg_id(bot_id, update_id)},
        stream=subjects.UPDATES_STREAM,
    )


async def users_send_start(js: JetStreamContext, control: TelegramControl, bot_id: int, users: range) -> None:
    for user in users:
        sent = await control.send_text(user, "/start", language_code="en")
        await gateway_forwards(js, control, bot_id, sent["update_id"])


async def answered(control: TelegramControl, users: range) -> bool:
    transcripts = await asyncio.gather(*(control.transcript(user) for user in users))
    return all(any(m["sender"] == "bot" for m in transcript) for transcript in transcripts)


async def test_the_dispatcher_answers_users_from_the_stream_survives_a_sigkill_and_exits_0_on_sigterm(
    nats_url: str, js: JetStreamContext, telegram: TelegramEmulator, token: str
):
    await create_updates_stream(js, partitions=4)
    control, bot_id = telegram.control(token), int(token.split(":")[0])
    first, second = range(FIRST_USER, FIRST_USER + 10), range(FIRST_USER + 10, FIRST_USER + 20)
    with Dispatcher(nats_url, telegram, token, "a") as a, Dispatcher(nats_url, telegram, token, "b") as b:
        a.wait_ready()  # both start in parallel
        b.wait_ready()
        await users_send_start(js, control, bot_id, first)
        await wait_until(lambda: answered(control, first), timeout=20, interval=0.2, message="first users answered")

        a.kill()
        await users_send_start(js, control, bot_id, second)
        await wait_until(lambda: answered(control, second), timeout=20, interval=0.2, message="answered after kill")

        exit_code = await asyncio.to_thread(b.terminate, 20)
        logs = a.logs() + b.logs()

    assert exit_code == 0, logs[-3000:]
    assert token.split(":")[1] not in logs
    assert "consuming 4 partitions of UPDATES" in logs
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 0, "every update acknowledged"


async def test_a_dispatcher_whose_nats_client_was_closed_for_good_stops_so_that_it_is_started_again(
    shedding_nats: SheddingNats, telegram: TelegramEmulator, token: str
):
    """Like the gateway (test_nats_closed_for_good): one clear line, a drain, exit 0; Compose and Kubernetes
    start it again."""
    setup = Client()
    await setup.connect(shedding_nats.url)
    await create_updates_stream(setup.jetstream(), partitions=4)
    await setup.close()
    with Dispatcher(shedding_nats.url, telegram, token, "shed") as dispatcher:
        dispatcher.wait_ready()
        await shed_until_gone(shedding_nats, dispatcher)
        logs = dispatcher.logs()

    assert dispatcher.returncode == 0, logs[-3000:]
    errors = [line for line in logs.splitlines() if "[ERROR] imagebot.nats" in line]
    assert len(errors) == 1 and "closed for good" in errors[0] and SHED in errors[0] and "stopping" in errors[0]
    assert "dispatcher stopped" in logs
    assert PASSWORD not in logs and token.split(":")[1] not in logs
