"""POST /webhook: Telegram gets a 2xx only for updates JetStream has stored (real gateway, real NATS)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from imagebot_common.nats import subjects
from tests.integration.gateway.conftest import BOT_ID
from tests.support.nats_server import NatsServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SECRET = {"X-Telegram-Bot-Api-Secret-Token": "test-secret-0123456789"}


def message_update(update_id: int, chat_id: int = 42, text: str = "hi") -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ann"},
            "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
            "date": 1_700_000_000,
            "text": text,
        },
    }


async def post(url: str, body: bytes | dict, headers: dict | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=content, headers={"Content-Type": "application/json", **(headers or {})})


async def stored_updates(js: JetStreamContext) -> list[tuple[str, dict, dict]]:
    """Every message in UPDATES as (subject, headers, body), read without consuming; none before the gateway
    has provisioned the stream (a just-started gateway is healthy before it is ready)."""
    try:
        info = await js.stream_info(subjects.UPDATES_STREAM)
    except NotFoundError:
        return []
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            msg = await js.get_msg(subjects.UPDATES_STREAM, seq=seq)
        except Exception:
            continue
        found.append((msg.subject, msg.headers or {}, json.loads(msg.data)))
    return found


async def test_an_update_is_answered_200_after_it_is_stored_with_its_dedup_id_and_chat_lane(start_gateway, js):
    gateway = start_gateway()
    update = message_update(1001, chat_id=-100500)

    response = await post(f"{gateway.base_url}/webhook", update, SECRET)

    assert response.status_code == 200
    (subject, headers, body) = (await stored_updates(js))[0]
    assert body == update
    assert subject.startswith("tg.p.") and subject.endswith(".upd.-100500")
    assert headers[subjects.MSG_ID_HEADER] == f"{BOT_ID}:1001"
    assert "traceparent" in headers


async def test_the_same_update_delivered_twice_is_acknowledged_twice_and_stored_once(start_gateway, js):
    gateway = start_gateway()
    first = await post(f"{gateway.base_url}/webhook", message_update(7), SECRET)
    second = await post(f"{gateway.base_url}/webhook", message_update(7), SECRET)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(await stored_updates(js)) == 1
    health = httpx.get(f"{gateway.base_url}/health").json()
    assert health["queue"]["total_duplicates"] == 1


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}], ids=["missing", "wrong"])
async def test_a_missing_or_wrong_secret_gets_401_and_nothing_is_stored(start_gateway, js, headers):
    gateway = start_gateway()
    response = await post(f"{gateway.base_url}/webhook", message_update(1), headers)

    assert response.status_code == 401
    assert "Secret-Token" in response.json()["detail"]
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 0


async def test_a_body_over_1_mib_gets_413(start_gateway, js):
    gateway = start_gateway()
    response = await post(f"{gateway.base_url}/webhook", b"{" + b" " * (1024 * 1024 + 10) + b"}", SECRET)
    assert response.status_code == 413
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 0


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1,2]", b'{"update_id": "7"}', b'{"update_id": true}', b'{"message": {}}', b"\xff\xfe"],
    ids=["garbage", "array", "string-id", "bool-id", "no-id", "not-utf8"],
)
async def test_an_authenticated_body_that_is_not_an_update_is_parked_in_dead_letters_and_answered_200(
    start_gateway, js, body
):
    gateway = start_gateway()
    response = await post(f"{gateway.base_url}/webhook", body, SECRET)

    assert response.status_code == 200
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 0
    parked = await js.get_last_msg(subjects.DEAD_LETTER_STREAM, subjects.DLQ_GATEWAY_UNPARSABLE)
    assert parked.data == body
    assert parked.headers[subjects.DLQ_ERROR_HEADER]


async def test_a_full_update_stream_answers_503_with_retry_after(start_gateway, js):
    gateway = start_gateway(update_queue_size="2")
    codes = [(await post(f"{gateway.base_url}/webhook", message_update(i), SECRET)).status_code for i in range(3)]

    assert codes == [200, 200, 503]
    refused = await post(f"{gateway.base_url}/webhook", message_update(99), SECRET)
    assert refused.headers["Retry-After"] == "2"
    assert "full" in refused.json()["detail"]


async def test_with_nats_down_the_gateway_answers_503_and_stores_again_once_nats_is_back(
    start_gateway, js, nats_server: NatsServer
):
    gateway = start_gateway()
    nats_server.stop()
    try:
        down = await post(f"{gateway.base_url}/webhook", message_update(5), SECRET)
        assert down.status_code == 503
        assert down.headers["Retry-After"]
        ready = httpx.get(f"{gateway.base_url}/readyz")
        assert ready.status_code == 503
        assert httpx.get(f"{gateway.base_url}/healthz").status_code == 200  # alive, just not ready
    finally:
        nats_server.start()

    async def delivered_again() -> bool:
        return (await post(f"{gateway.base_url}/webhook", message_update(5), SECRET)).status_code == 200

    await wait_until(delivered_again, timeout=15, interval=0.3, message="gateway reconnected")
    assert [body["update_id"] for _, _, body in await stored_updates(js)] == [5]


async def test_sigterm_finishes_in_flight_requests_and_exits_0(start_gateway, js):
    gateway = start_gateway()
    async with httpx.AsyncClient() as client:
        requests = [
            client.post(f"{gateway.base_url}/webhook", json=message_update(i, chat_id=i), headers=SECRET)
            for i in range(200)
        ]
        sending = asyncio.gather(*requests, return_exceptions=True)
        await asyncio.sleep(0.05)
        code = await asyncio.to_thread(gateway.terminate, 15)
        responses = await sending

    assert code == 0
    acknowledged = {i for i, r in enumerate(responses) if isinstance(r, httpx.Response) and r.status_code == 200}
    stored = {body["update_id"] for _, _, body in await stored_updates(js)}
    assert acknowledged <= stored  # every 200 was stored; refused connections are retried by Telegram


async def test_a_port_already_in_use_gets_a_clear_message_and_exit_1(start_gateway):
    first = start_gateway()
    from tests.integration.gateway.conftest import Gateway

    second = Gateway({**first.env, "PORT": str(first.port)}).start()
    await wait_until(lambda: second.returncode is not None, timeout=15, message="second gateway exits")
    assert second.returncode == 1
    assert "cannot listen" in second.logs() and str(first.port) in second.logs()


async def test_the_root_and_healthz_report_mode_readiness_and_instance(start_gateway, js):
    gateway = start_gateway()
    for path in ("/", "/healthz"):
        body = httpx.get(f"{gateway.base_url}{path}").json()
        assert body["status"] == "ok"
        assert body["mode"] == "webhook"
        assert body["ready"] is True
        assert body["instance"]
    health = httpx.get(f"{gateway.base_url}/health").json()
    assert set(health["queue"]) >= {
        "total_received",
        "total_published",
        "total_duplicates",
        "total_rejected",
        "queue_depth",
        "queue_max",
        "drop_rate",
    }
    assert health["webhook_mode"] is True
    assert health["streams_ready"] is True
