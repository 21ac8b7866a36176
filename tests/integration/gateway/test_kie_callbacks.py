"""POST /callbacks/kie: only authenticated Kie.ai callbacks reach imagegen, once each (real gateway, NATS)."""

from __future__ import annotations

import time

import httpx
import pytest
from nats.js import JetStreamContext

from imagebot_common.messages.v1 import KieCallbackV1
from imagebot_common.nats import subjects
from imagebot_gateway.kie_auth import sign

pytestmark = pytest.mark.integration

TOKEN = "callback-token-0123456789"
HMAC_KEY = "kie-hmac-key-0123456789"


def callback(task_id: str = "task-1", state: str = "success") -> dict:
    return {"code": 200, "msg": "Playground task completed successfully.", "data": {"taskId": task_id, "state": state}}


def signed(task_id: str, at: float | None = None) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    return {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": sign(HMAC_KEY, task_id, stamp)}


@pytest.fixture
def gateway(start_gateway):
    return start_gateway(kie_callback_token=TOKEN, kie_webhook_hmac_key=HMAC_KEY)


async def forwarded(js: JetStreamContext) -> int:
    return (await js.stream_info(subjects.KIE_CALLBACKS_STREAM)).state.messages


async def test_an_authenticated_callback_is_forwarded_to_imagegen_once(gateway, js):
    url = f"{gateway.base_url}/callbacks/kie?token={TOKEN}"
    async with httpx.AsyncClient() as client:
        first = await client.post(url, json=callback(), headers=signed("task-1"))
        again = await client.post(url, json=callback(), headers=signed("task-1"))

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == {"code": 200, "msg": "success"}
    assert await forwarded(js) == 1
    msg = await js.get_last_msg(subjects.KIE_CALLBACKS_STREAM, subjects.KIE_CALLBACKS_SUBJECT)
    message = KieCallbackV1.from_bytes(msg.data)
    assert (message.task_id, message.state, message.code) == ("task-1", "success", 200)
    assert TOKEN not in gateway.logs()


@pytest.mark.parametrize(
    ("query", "headers", "status", "reason"),
    [
        ("", None, 401, "token"),
        ("?token=wrong", None, 401, "token"),
        (f"?token={TOKEN}", {}, 401, "missing X-Webhook"),
        (f"?token={TOKEN}", "bad-signature", 401, "bad"),
        (f"?token={TOKEN}", "replayed", 401, "too old"),
    ],
    ids=["no-token", "wrong-token", "unsigned", "bad-signature", "replayed-timestamp"],
)
async def test_a_forged_callback_is_refused_with_a_reason_and_nothing_is_forwarded(
    gateway, js, query, headers, status, reason
):
    # Timestamps are made now, not at collection time (a long run would make a "fresh" one stale).
    if headers == "replayed":
        headers = signed("task-1", at=time.time() - 3600)
    elif headers == "bad-signature":
        headers = {"X-Webhook-Timestamp": str(int(time.time())), "X-Webhook-Signature": "AAAA"}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{gateway.base_url}/callbacks/kie{query}", json=callback(), headers=headers)

    assert response.status_code == status
    assert reason in response.json()["msg"]
    assert await forwarded(js) == 0


@pytest.mark.parametrize(
    ("body", "reason"), [(b"not json", "not JSON"), (b'{"data": {}}', "taskId")], ids=["garbage", "no-task"]
)
async def test_a_malformed_callback_gets_400_with_a_reason(gateway, js, body, reason):
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{gateway.base_url}/callbacks/kie?token={TOKEN}", content=body)
    assert response.status_code == 400
    assert reason in response.json()["msg"]
