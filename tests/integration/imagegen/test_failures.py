"""Kie.ai failures become one failed result with the right JobError.kind; only safe calls are repeated."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext

from tests.integration.imagegen.support import Results, make_job, publish_job, running_imagegen, settings_for
from tests.support.kie import KieEmulatorControl

pytestmark = pytest.mark.integration


async def _one_result(js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results, **settings):
    async with running_imagegen(settings_for(nats_url, kie.url, **settings)):
        await publish_job(js, make_job())
        (result,) = await results.wait_for(1, timeout=20)
        assert len(await results.settle(0.3)) == 1
        return result


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (402, "insufficient_credits"),
        (422, "content_rejected"),
        (401, "provider_unavailable"),
        (505, "provider_unavailable"),
    ],
)
async def test_a_create_error_that_must_not_be_retried_fails_the_job_after_one_call(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results, code: int, kind: str
):
    await kie.fault("createTask", code=code, count=5)
    result = await _one_result(js, nats_url, kie, results)
    assert result.outcome == "failed" and result.image is None
    assert result.error is not None and result.error.kind == kind and result.error.provider_code == code
    assert len(await kie.calls("createTask")) == 1


async def test_an_exhausted_balance_reported_by_kie_becomes_insufficient_credits(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(credits=0.5)
    result = await _one_result(js, nats_url, kie, results)
    assert result.error is not None and result.error.kind == "insufficient_credits"


@pytest.mark.parametrize(
    ("fail_code", "fail_msg", "kind"),
    [
        ("500", "Internal server error", "generation_failed"),
        ("422", "Invalid prompt: prompt contains prohibited content", "content_rejected"),
    ],
)
async def test_a_task_ending_in_state_fail_becomes_a_failed_result(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results, fail_code, fail_msg, kind
):
    await kie.configure(generation_seconds=0.3)
    await kie.fault("task", fail_code=fail_code, fail_msg=fail_msg)
    result = await _one_result(js, nats_url, kie, results)
    assert result.outcome == "failed" and result.task_id is not None
    assert result.error is not None and result.error.kind == kind
    assert result.error.provider_code == int(fail_code)


@pytest.mark.parametrize("code", [429, 455, 500])
async def test_rate_limits_maintenance_and_server_errors_are_retried_until_the_task_is_created(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results, code: int
):
    await kie.configure(generation_seconds=0.2)
    await kie.fault("createTask", code=code, count=2)
    result = await _one_result(js, nats_url, kie, results)
    assert result.outcome == "succeeded"
    assert [c["code"] for c in await kie.calls("createTask")] == [code, code, 200]
    assert len(await kie.tasks()) == 1


async def test_retries_exhausted_become_provider_unavailable(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.fault("createTask", code=455, count=10)
    result = await _one_result(js, nats_url, kie, results, kie_max_attempts=3)
    assert result.error is not None and result.error.kind == "provider_unavailable"
    assert len(await kie.calls("createTask")) == 3


async def test_a_create_request_that_timed_out_is_never_repeated_so_no_second_paid_task_exists(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.fault("createTask", delay=3.0)  # Kie takes the task but answers after our 1 s timeout
    result = await _one_result(js, nats_url, kie, results, kie_request_timeout_seconds=1.0)
    assert result.error is not None and result.error.kind == "provider_unavailable"
    assert "not repeated" in result.error.message
    assert len(await kie.calls("createTask")) == 1


async def test_record_info_errors_are_retried_and_a_briefly_unknown_task_is_tolerated(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=0.5)
    await kie.fault("recordInfo", code=422, msg="recordInfo is null", count=1)
    await kie.fault("recordInfo", code=500, count=2)
    result = await _one_result(js, nats_url, kie, results)
    assert result.outcome == "succeeded"


async def test_a_task_that_does_not_finish_in_time_gives_a_timeout_result(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=30)
    result = await _one_result(js, nats_url, kie, results, image_job_timeout_seconds=1.5)
    assert result.error is not None and result.error.kind == "timeout"
    assert result.task_id is not None


async def test_a_model_that_is_not_offered_is_refused_without_calling_kie(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    async with running_imagegen(settings_for(nats_url, kie.url, single_model_only=True)):
        await publish_job(js, make_job(model="seedream/4.5-text-to-image"))
        (result,) = await results.wait_for(1)
    assert result.error is not None and result.error.kind == "invalid_request"
    assert await kie.calls("createTask") == []
