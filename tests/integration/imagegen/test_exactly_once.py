"""Exactly one paid task and one result per job: racing paths, redeliveries and what a crash leaves behind."""

from __future__ import annotations

import time

import httpx
import pytest
from nats.js import JetStreamContext

from imagebot_common.nats import subjects, topology
from imagebot_imagegen.job_store import JobState, JobStore, new_record
from tests.integration.imagegen.support import (
    CALLBACK_TOKEN,
    CallbackRelay,
    Results,
    make_job,
    publish_callback,
    publish_job,
    running_imagegen,
    settings_for,
)
from tests.support.kie import TEST_API_KEY, KieEmulatorControl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_callbacks_and_polls_racing_in_two_replicas_publish_one_result_per_job(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results, relay: CallbackRelay
):
    await kie.configure(generation_seconds=0.5, callback_copies=2, create_limit=0)  # every callback comes twice
    common = {
        "kie_poll_initial_seconds": 0.1,  # polls race the callbacks
        "kie_callback_base_url": relay.base_url,
        "kie_callback_token": CALLBACK_TOKEN,
    }
    async with (
        running_imagegen(settings_for(nats_url, kie.url, **common)) as one,
        running_imagegen(settings_for(nats_url, kie.url, **common)) as two,
    ):
        jobs = [make_job(chat_id=500 + i) for i in range(30)]
        for job in jobs:
            await publish_job(js, job)
        await results.wait_for(30, timeout=30)
        for task in await kie.tasks():  # and a late duplicate, straight onto the stream
            await publish_callback(js, task["taskId"])
        got = await results.settle(1.0)
        await wait_until(lambda: relay.received >= 60, timeout=10)

        assert sorted(r.job_id for r in got) == sorted(j.job_id for j in jobs)
        assert one.stats.succeeded + two.stats.succeeded == 30  # no path published twice, even deduplicated
        assert len(await kie.calls("createTask")) == 30
        assert len(await kie.calls("file")) == 30


async def test_a_redelivered_job_that_already_has_its_result_creates_nothing_and_publishes_nothing(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=0.2)
    job = make_job()
    async with running_imagegen(settings_for(nats_url, kie.url)) as service:
        await publish_job(js, job)
        await results.wait_for(1)
        # The same job again, past the stream's dedup (as a redelivery after a lost ack would be).
        await js.publish(subjects.IMAGE_JOBS_SUBJECT, job.to_bytes(), headers={subjects.MSG_ID_HEADER: "other-id"})
        await wait_until(lambda: service.stats.resumed == 1, timeout=10)
        assert len(await results.settle(0.5)) == 1
    assert len(await kie.calls("createTask")) == 1


async def test_a_job_left_running_by_a_crash_resumes_its_kie_task_instead_of_creating_another(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=0.5)
    async with httpx.AsyncClient(base_url=kie.url, headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as api:
        created = await api.post(
            "/api/v1/jobs/createTask",
            json={"model": "z-image", "input": {"prompt": "left behind", "aspect_ratio": "1:1"}},
        )
    task_id = created.json()["data"]["taskId"]
    job = make_job(prompt="left behind")
    await _write_record(js, job, state=JobState.RUNNING, task_id=task_id, task_created_at=time.time())

    async with running_imagegen(settings_for(nats_url, kie.url)) as service:
        await publish_job(js, job)
        (result,) = await results.wait_for(1)
    assert result.outcome == "succeeded" and result.task_id == task_id
    assert len(await kie.calls("createTask")) == 1  # only the one made above
    assert service.stats.resumed == 1


async def test_a_job_whose_create_request_was_cut_off_by_a_crash_fails_safely_without_a_new_task(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    job = make_job()
    await _write_record(js, job, state=JobState.CREATING, create_started_at=time.time() - 600, create_attempts=1)
    async with running_imagegen(settings_for(nats_url, kie.url)):
        await publish_job(js, job)
        (result,) = await results.wait_for(1)
    assert result.error is not None and result.error.kind == "provider_unavailable"
    assert await kie.calls("createTask") == []


async def test_a_job_whose_create_request_is_still_on_the_wire_elsewhere_is_not_created_twice(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    """Another replica marked `creating` a moment ago: wait for its task id rather than sending a second one."""
    await kie.configure(generation_seconds=0.3)
    job = make_job()
    store = await _write_record(js, job, state=JobState.CREATING, create_started_at=time.time(), create_attempts=1)
    async with running_imagegen(settings_for(nats_url, kie.url)):
        await publish_job(js, job)
        await wait_until(lambda: _state_of(store, job.job_id, JobState.CREATING), timeout=5)
        assert await kie.calls("createTask") == []
        # The other replica's request completes and records its task.
        async with httpx.AsyncClient(base_url=kie.url, headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as api:
            created = await api.post(
                "/api/v1/jobs/createTask",
                json={"model": "z-image", "input": {"prompt": job.prompt, "aspect_ratio": "1:1"}},
            )
        task_id = created.json()["data"]["taskId"]
        current = await store.get(job.job_id)
        assert current is not None
        await store.replace(current, current.record.with_(state=JobState.RUNNING, task_id=task_id))
        (result,) = await results.wait_for(1)
    assert result.outcome == "succeeded" and result.task_id == task_id
    assert len(await kie.calls("createTask")) == 1


async def _write_record(js: JetStreamContext, job, **fields) -> JobStore:
    kv = await topology.ensure_key_value(js, topology.image_jobs_bucket())
    store = JobStore(kv)
    await store.create(new_record(job, timeout=30).with_(**fields))
    return store


async def _state_of(store: JobStore, job_id: str, state: JobState) -> bool:
    current = await store.get(job_id)
    return current is not None and current.record.state == state
