"""imagegen as a real process: SIGKILL mid-job resumes the same Kie task, SIGTERM drains, health tells the truth."""

from __future__ import annotations

import time

import httpx
import pytest
from nats.js import JetStreamContext

from imagebot_common.nats import topology
from imagebot_imagegen.job_store import JobState, JobStore
from tests.integration.imagegen.support import CALLBACK_TOKEN, Results, make_job, publish_job
from tests.support.kie import TEST_API_KEY, KieEmulatorControl
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess
from tests.support.shedding_nats import PASSWORD, SHED, SheddingNats, shed_until_gone, shedding_nats_fixture  # noqa: F401
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def imagegen_process(nats_url: str, kie_url: str, health_port: int) -> ServiceProcess:
    env = {
        "NATS_URL": nats_url,
        "KIE_API_KEY": TEST_API_KEY,
        "KIE_API_URL": kie_url,
        "WEBHOOK_BASE_URL": "https://bot.example.com",
        "KIE_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": str(health_port),
        "IMAGE_JOB_ACK_WAIT_SECONDS": "3",
        "KIE_POLL_INITIAL_SECONDS": "0.3",
        "KIE_STATUS_RATE_PER_SECOND": "50",
        "SHUTDOWN_GRACE_SECONDS": "3",
        "KIE_CREDIT_CACHE_SECONDS": "0",
    }
    process = ServiceProcess("imagebot_imagegen", env, name="imagegen").start()
    process.wait_http_ok(f"http://127.0.0.1:{health_port}/readyz")
    return process


async def _all_running(js: JetStreamContext, job_ids: list[str]) -> bool:
    store = JobStore(await topology.ensure_key_value(js, topology.image_jobs_bucket()))
    for job_id in job_ids:
        current = await store.get(job_id)
        if current is None or current.record.state != JobState.RUNNING:
            return False
    return True


async def test_imagegen_killed_mid_job_resumes_the_same_kie_task_after_restart(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=4.0)
    port = free_port()
    first = imagegen_process(nats_url, kie.url, port)
    job = make_job()
    await publish_job(js, job)
    await wait_until(lambda: _all_running(js, [job.job_id]), timeout=10, message="the task id in the ledger")
    first.kill()  # SIGKILL: no drain, the job message is left unacked

    (create,) = await kie.calls("createTask")
    second = imagegen_process(nats_url, kie.url, port)
    try:
        (result,) = await results.wait_for(1, timeout=30)
        assert result.outcome == "succeeded" and result.task_id == create["task_id"]
        assert len(await kie.calls("createTask")) == 1  # no second paid task
        assert "traceparent" in results.headers_of(job.job_id)
        health = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert health["jobs_resumed"] == 1 and health["jobs_succeeded"] == 1
    finally:
        assert second.terminate() == 0


async def test_sigterm_hands_jobs_back_quickly_and_the_next_process_finishes_them_without_new_tasks(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=3.0)
    port = free_port()
    first = imagegen_process(nats_url, kie.url, port)
    jobs = [make_job(chat_id=900 + i) for i in range(3)]
    for job in jobs:
        await publish_job(js, job)
    await wait_until(lambda: _all_running(js, [j.job_id for j in jobs]), timeout=10)

    started = time.monotonic()
    assert first.terminate(timeout=15) == 0
    assert time.monotonic() - started < 8
    assert "draining" in first.logs()

    second = imagegen_process(nats_url, kie.url, port)
    try:
        got = await results.wait_for(3, timeout=30)
        assert {r.job_id for r in got} == {j.job_id for j in jobs}
        assert len(await kie.calls("createTask")) == 3
    finally:
        assert second.terminate() == 0


async def test_health_reports_jobs_and_credits_and_no_secret_reaches_logs_or_health(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=0.2)
    port = free_port()
    process = imagegen_process(nats_url, kie.url, port)
    try:
        await kie.fault("createTask", code=402)
        await publish_job(js, make_job())
        await publish_job(js, make_job())
        await results.wait_for(2)
        base = f"http://127.0.0.1:{port}"
        health = httpx.get(f"{base}/health").json()
        assert health["jobs_succeeded"] == 1
        assert health["jobs_failed_by_kind"] == {"insufficient_credits": 1}
        assert health["credits"] == pytest.approx(99.2)
        assert health["callback_mode"] == "on" and health["kie_api_url"].startswith("http://127.0.0.1")
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").json() == {"ready": True}
        metrics = httpx.get(f"{base}/metrics").text
        assert "imagebot_imagegen_jobs_in_flight" in metrics
        assert 'imagebot_imagegen_kie_errors_total{code="402",operation="createTask"} 1.0' in metrics
        assert "imagebot_imagegen_generation_duration_seconds_bucket" in metrics
    finally:
        assert process.terminate() == 0
    logs = process.logs()
    assert "callbacks on via " in logs and "/callbacks/***" in logs
    for secret in (TEST_API_KEY, CALLBACK_TOKEN):
        assert secret not in logs
        assert secret not in str(health)
    # The emulator did get the token in the callback URL (that is how the gateway authenticates Kie).
    assert CALLBACK_TOKEN in (await kie.calls("createTask"))[-1]["body"]["callBackUrl"]


async def test_imagegen_whose_nats_client_was_closed_for_good_stops_so_that_it_is_started_again(
    shedding_nats: SheddingNats, kie: KieEmulatorControl
):
    """Like the gateway (test_nats_closed_for_good): one clear line, a drain, exit 0; Compose and Kubernetes
    start it again."""
    process = imagegen_process(shedding_nats.url, kie.url, free_port())
    try:
        await shed_until_gone(shedding_nats, process)
    finally:
        process.__exit__(None, None, None)
    logs = process.logs()
    assert process.returncode == 0, logs[-3000:]
    errors = [line for line in logs.splitlines() if "[ERROR] imagebot.nats" in line]
    assert len(errors) == 1 and "closed for good" in errors[0] and SHED in errors[0] and "stopping" in errors[0]
    assert "draining" in logs
    assert PASSWORD not in logs
