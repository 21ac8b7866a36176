"""The Kie client reads the envelope code, maps it to typed errors, and repeats only calls that are safe to repeat."""

from __future__ import annotations

import json

import httpx
import pytest

from imagebot_imagegen.kie.client import KieClient
from imagebot_imagegen.kie.errors import (
    KieAuthError,
    KieError,
    KieFeatureDisabled,
    KieInsufficientCredits,
    KieMaintenance,
    KieServerError,
    KieTransportError,
    KieValidationError,
)
from imagebot_imagegen.rate_limit import SlidingWindowLimiter

pytestmark = pytest.mark.unit

KEY = "unit-test-kie-key-987654"


def client_answering(*answers: object, calls: list[httpx.Request] | None = None) -> KieClient:
    """Each answer is (status, json body), raw bytes for a non-JSON body, or an exception to raise."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer  # type: ignore[misc]
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    return KieClient(
        "https://kie.invalid",
        KEY,
        max_attempts=3,
        backoff_initial=0.001,
        backoff_max=0.002,
        create_limiter=SlidingWindowLimiter(100, 1.0),
        status_limiter=SlidingWindowLimiter(100, 1.0),
        transport=httpx.MockTransport(handler),
    )


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (401, KieAuthError),
        (402, KieInsufficientCredits),
        (422, KieValidationError),
        (505, KieFeatureDisabled),
    ],
)
async def test_an_error_code_in_an_http_200_envelope_raises_its_typed_error_without_retry(code, error):
    calls: list[httpx.Request] = []
    client = client_answering((200, {"code": code, "msg": "nope", "data": None}), calls=calls)
    with pytest.raises(error) as raised:
        await client.create_task("z-image", {"prompt": "x", "aspect_ratio": "1:1"}, None)
    assert raised.value.code == code and raised.value.message == "nope"
    assert len(calls) == 1


async def test_an_undocumented_code_keeps_its_number_and_message_falls_back_to_message():
    client = client_answering((200, {"code": 433, "message": "too many"}))
    with pytest.raises(KieError) as raised:
        await client.record_info("t1")
    assert (raised.value.code, raised.value.message) == (433, "too many")


async def test_a_real_http_error_without_an_envelope_is_mapped_by_its_status():
    client = client_answering((502, b"<html>bad gateway</html>"))
    with pytest.raises(KieServerError) as raised:
        await client.record_info("t1")
    assert raised.value.code == 502


@pytest.mark.parametrize("code", [429, 455, 500])
async def test_create_is_repeated_on_rate_limits_maintenance_and_server_errors(code):
    calls: list[httpx.Request] = []
    client = client_answering(
        (200, {"code": code, "msg": "later"}),
        (200, {"code": 200, "msg": "success", "data": {"taskId": "abc"}}),
        calls=calls,
    )
    assert await client.create_task("z-image", {"prompt": "x", "aspect_ratio": "1:1"}, "https://cb") == "abc"
    assert len(calls) == 2
    assert json.loads(calls[0].content)["callBackUrl"] == "https://cb"


async def test_create_is_repeated_after_a_connect_error_but_never_after_a_read_timeout():
    connect_calls: list[httpx.Request] = []
    client = client_answering(
        httpx.ConnectError("refused"),
        (200, {"code": 200, "msg": "success", "data": {"taskId": "t"}}),
        calls=connect_calls,
    )
    assert await client.create_task("z-image", {}, None) == "t"
    assert len(connect_calls) == 2

    timeout_calls: list[httpx.Request] = []
    client = client_answering(httpx.ReadTimeout("slow"), calls=timeout_calls)
    with pytest.raises(KieTransportError) as raised:
        await client.create_task("z-image", {}, None)
    assert raised.value.request_sent
    assert len(timeout_calls) == 1


async def test_reads_are_repeated_after_timeouts_and_maintenance_until_attempts_run_out():
    calls: list[httpx.Request] = []
    client = client_answering(httpx.ReadTimeout("slow"), (200, {"code": 455, "msg": "maintenance"}), calls=calls)
    with pytest.raises(KieMaintenance):
        await client.record_info("t1")
    assert len(calls) == 3


async def test_record_info_decodes_the_json_string_fields():
    data = {
        "taskId": "t1",
        "model": "z-image",
        "state": "success",
        "param": json.dumps({"model": "z-image", "input": {"prompt": "p"}}),
        "resultJson": json.dumps({"resultUrls": ["https://files/1.png"]}),
        "failCode": 0,
        "costTime": 1200,
        "surprise": "ignored",
    }
    client = client_answering((200, {"code": 200, "msg": "success", "data": data}))
    record = await client.record_info("t1")
    assert record.is_final and record.result_urls == ["https://files/1.png"]
    assert record.request_param()["model"] == "z-image" and record.fail_code == "0"


async def test_the_api_key_goes_to_kie_only_never_to_result_file_hosts_nor_into_errors():
    calls: list[httpx.Request] = []
    client = client_answering((200, {"code": 401, "msg": "Unauthorized"}), calls=calls)
    with pytest.raises(KieAuthError) as raised:
        await client.credit()
    assert calls[0].headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in str(raised.value)
    assert "Authorization" not in client.files.headers
