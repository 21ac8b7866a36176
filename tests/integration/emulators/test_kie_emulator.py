"""The Kie.ai emulator speaks Kie's shapes (research/kie.md §1) and obeys its control API (real process)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from PIL import Image

from tests.support.kie import TEST_API_KEY, KieEmulatorControl, kie, kie_emulator_url  # noqa: F401
from tests.support.ports import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def z_image(prompt: str = "a red fox in snow", ratio: str = "1:1", callback: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "z-image", "input": {"prompt": prompt, "aspect_ratio": ratio}}
    if callback:
        body["callBackUrl"] = callback
    return body


@pytest.fixture
async def api(kie: KieEmulatorControl) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    async with httpx.AsyncClient(base_url=kie.url, headers=AUTH, timeout=10) as client:
        yield client


class CallbackSink:
    """A stand-in receiver of Kie's callbacks."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/cb"

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.json()))
        return web.json_response({"code": 200, "msg": "success"})


@pytest.fixture
async def sink() -> AsyncIterator[CallbackSink]:
    receiver = CallbackSink()
    app = web.Application()
    app.router.add_post("/cb", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    yield receiver
    await runner.cleanup()


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/v1/jobs/createTask", json=body)
    return response.json()


async def record(api: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    return (await api.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})).json()


async def test_a_task_moves_waiting_queuing_generating_to_success_with_kie_shaped_fields(api, kie):  # noqa: F811
    await kie.configure(generation_seconds=1.0)
    created = await create(api, z_image(ratio="16:9"))
    assert created["code"] == 200 and created["msg"] == "success"
    task_id = created["data"]["taskId"]
    assert len(task_id) == 32

    seen: list[str] = []

    async def finished() -> bool:
        state = (await record(api, task_id))["data"]["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        return state == "success"

    await wait_until(finished, timeout=5, interval=0.03)
    assert seen[-1] == "success"
    order = ["waiting", "queuing", "generating", "success"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
    assert "generating" in seen

    data = (await record(api, task_id))["data"]
    assert isinstance(data["resultJson"], str)
    assert json.loads(data["resultJson"])["resultUrls"][0].endswith(f"/files/{task_id}.png")
    assert json.loads(data["param"]) == z_image(ratio="16:9")
    assert data["failCode"] == "" and data["failMsg"] == ""
    assert data["createTime"] > 1_600_000_000_000 and data["completeTime"] >= data["createTime"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": "flux-pro", "input": {"prompt": "x", "aspect_ratio": "1:1"}}, "model"),
        (z_image(prompt="x" * 1001), "maximum length"),
        (z_image(prompt="   "), "prompt"),
        (z_image(ratio="auto"), "aspect_ratio"),
        ({"model": "z-image"}, "input"),
    ],
)
async def test_invalid_create_requests_get_code_422_with_http_200(api, body, fragment):
    response = await api.post("/api/v1/jobs/createTask", json=body)
    assert response.status_code == 200
    assert response.json()["code"] == 422
    assert fragment in response.json()["msg"]


async def test_nsfw_checker_is_accepted_and_a_1000_char_prompt_is_fine(api):
    body = z_image(prompt="y" * 1000)
    body["input"]["nsfw_checker"] = False
    assert (await create(api, body))["code"] == 200


async def test_a_missing_or_unaccepted_key_gets_401_and_real_http_status_mode_mirrors_it(api, kie):  # noqa: F811
    anonymous = await api.post("/api/v1/jobs/createTask", json=z_image(), headers={"Authorization": ""})
    assert anonymous.status_code == 200 and anonymous.json()["code"] == 401

    await kie.configure(accepted_keys=["only-this-key"], real_http_status=True)
    refused = await api.post("/api/v1/jobs/createTask", json=z_image())
    assert refused.status_code == 401 and refused.json()["code"] == 401


async def test_the_21st_new_task_within_10_seconds_is_refused_with_429_and_not_queued(api, kie):  # noqa: F811
    codes = [(await create(api, z_image(prompt=f"p{i}")))["code"] for i in range(21)]
    assert codes == [200] * 20 + [429]
    assert len(await kie.tasks()) == 20


async def test_record_info_answers_400_without_task_id_and_404_or_null_for_unknown_tasks(api, kie):  # noqa: F811
    assert (await api.get("/api/v1/jobs/recordInfo")).json()["code"] == 400
    unknown = await record(api, "0" * 32)
    assert unknown["code"] == 404 and unknown["msg"] == "Task not found"
    await kie.configure(unknown_task="null")
    null = await record(api, "0" * 32)
    assert null == {"code": 422, "msg": "recordInfo is null", "data": None}


async def test_callbacks_have_the_market_shape_and_a_valid_hmac_signature(api, kie, sink):  # noqa: F811
    key = "hmac-key-for-tests"
    await kie.configure(generation_seconds=0.2, hmac_key=key)
    task_id = (await create(api, z_image(callback=sink.url)))["data"]["taskId"]
    await wait_until(lambda: sink.received, timeout=5)

    headers, body = sink.received[0]
    assert body["code"] == 200 and body["msg"] == "Playground task completed successfully."
    assert body["data"]["taskId"] == task_id and body["data"]["state"] == "success"
    assert json.loads(body["data"]["resultJson"])["resultUrls"]
    timestamp = headers["X-Webhook-Timestamp"]
    expected = base64.b64encode(hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest())
    assert hmac.compare_digest(headers["X-Webhook-Signature"], expected.decode())


async def test_a_scripted_failure_ends_in_state_fail_with_a_501_callback_and_refunds_credits(api, kie, sink):  # noqa: F811
    await kie.configure(generation_seconds=0.2)
    await kie.fault("task", fail_code="500", fail_msg="Internal server error", count=1)
    task_id = (await create(api, z_image(callback=sink.url)))["data"]["taskId"]
    await wait_until(lambda: sink.received, timeout=5)

    _, body = sink.received[0]
    assert body["code"] == 501 and body["msg"] == "Playground task failed."
    assert body["data"]["failCode"] == "500" and body["data"]["resultJson"] is None
    data = (await record(api, task_id))["data"]
    assert data["state"] == "fail" and data["failCode"] == "500" and data["resultJson"] == ""
    assert (await api.get("/api/v1/chat/credit")).json()["data"] == 100


async def test_callbacks_can_be_duplicated_delayed_or_switched_off(api, kie, sink):  # noqa: F811
    await kie.configure(generation_seconds=0.1, callback_copies=2)
    first = (await create(api, z_image(callback=sink.url)))["data"]["taskId"]
    await wait_until(lambda: len(sink.received) == 2, timeout=5)
    assert {b["data"]["taskId"] for _, b in sink.received} == {first}

    await kie.configure(callbacks_enabled=False)
    second = (await create(api, z_image(callback=sink.url)))["data"]["taskId"]
    await wait_until(lambda: _state_is(api, second, "success"), timeout=5)
    await asyncio.sleep(0.3)  # a callback would have been sent by now
    assert len(sink.received) == 2

    await kie.resend_callback(second, delay=0.2)
    await wait_until(lambda: len(sink.received) == 3, timeout=5)


async def _state_is(api: httpx.AsyncClient, task_id: str, state: str) -> bool:
    return (await record(api, task_id))["data"]["state"] == state


@pytest.mark.parametrize(("ratio", "size"), [("1:1", (1024, 1024)), ("16:9", (1024, 576)), ("3:4", (768, 1024))])
async def test_result_urls_serve_a_png_in_the_asked_ratio(api, kie, ratio, size):  # noqa: F811
    await kie.configure(generation_seconds=0)
    task_id = (await create(api, z_image(ratio=ratio)))["data"]["taskId"]
    await wait_until(lambda: _state_is(api, task_id, "success"), timeout=5)
    url = json.loads((await record(api, task_id))["data"]["resultJson"])["resultUrls"][0]
    picture = await api.get(url)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(picture.content))
    assert image.format == "PNG" and image.size == size


async def test_credits_drop_by_0_8_per_image_and_an_empty_balance_gets_402(api, kie):  # noqa: F811
    assert (await api.get("/api/v1/chat/credit")).json() == {"code": 200, "msg": "success", "data": 100}
    await create(api, z_image())
    assert (await api.get("/api/v1/chat/credit")).json()["data"] == pytest.approx(99.2)
    await kie.configure(credits=0.5)
    assert (await create(api, z_image()))["code"] == 402


async def test_scripted_create_errors_and_slow_answers_come_in_order_and_every_call_is_recorded(api, kie):  # noqa: F811
    await kie.fault("createTask", code=455, count=1, msg="maintenance")
    await kie.fault("createTask", delay=0.5, count=1)
    assert (await create(api, z_image()))["code"] == 455
    with pytest.raises(httpx.ReadTimeout):
        await api.post("/api/v1/jobs/createTask", json=z_image(), timeout=0.2)
    await wait_until(lambda: _count_tasks(kie, 1), timeout=3)  # the slow request still created its task

    calls = await kie.calls("createTask")
    assert [c["code"] for c in calls] == [455, 200]
    assert calls[1]["body"] == z_image()


async def _count_tasks(kie: KieEmulatorControl, n: int) -> bool:  # noqa: F811
    return len(await kie.tasks()) == n
