"""A job becomes one picture in the `images` store and one ImageResultV1 on the chat's lane (real NATS + emulator)."""

from __future__ import annotations

import io

import pytest
from nats.js import JetStreamContext
from PIL import Image

from imagebot_common.messages.v1 import IMAGE_RESULT_EVENT, result_msg_id
from imagebot_common.nats import subjects
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
from tests.support.kie import KieEmulatorControl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_polling_alone_completes_a_job_with_the_picture_in_the_object_store(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=0.5)
    job = make_job(aspect_ratio="16:9", status_message_id=77)
    async with running_imagegen(settings_for(nats_url, kie.url)) as service:
        await publish_job(js, job)
        (result,) = await results.wait_for(1)

        assert result.outcome == "succeeded" and result.error is None
        assert (result.job_id, result.chat_id, result.status_message_id) == (job.job_id, job.chat_id, 77)
        assert result.image is not None and result.image.content_type == "image/png"
        stored = await (await js.object_store(subjects.IMAGES_OBJECT_STORE)).get(result.image.object_name)
        assert len(stored.data) == result.image.size
        assert Image.open(io.BytesIO(stored.data)).size == (1024, 576)

        headers = results.headers_of(job.job_id)
        assert headers[subjects.MSG_ID_HEADER] == result_msg_id(job.job_id)
        assert headers["Imagebot-Event"] == IMAGE_RESULT_EVENT

        (create,) = await kie.calls("createTask")
        assert "callBackUrl" not in create["body"]  # no public base URL: polling only
        assert create["body"]["input"] == {"prompt": job.prompt, "aspect_ratio": "16:9"}
        assert len(await kie.calls("file")) == 1  # downloaded once
        assert service.stats.succeeded == 1


async def test_a_published_callback_completes_the_job_long_before_the_next_poll(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=0.3)
    settings = settings_for(
        nats_url, kie.url, kie_poll_initial_seconds=60.0, webhook_base_url="https://bot.example.com"
    )
    async with running_imagegen(settings):
        job = make_job()
        await publish_job(js, job)
        await wait_until(lambda: _succeeded_task(kie), timeout=10, message="the Kie task to succeed")
        (create,) = await kie.calls("createTask")
        assert create["body"]["callBackUrl"] == "https://bot.example.com/callbacks/kie"

        await publish_callback(js, create["task_id"])  # what the gateway publishes for Kie's POST
        (result,) = await results.wait_for(1, timeout=10)
        assert result.outcome == "succeeded" and result.task_id == create["task_id"]
        # The callback body is not trusted: the outcome came from one recordInfo read after it.
        assert [c["code"] for c in await kie.calls("recordInfo")] == [200]


async def test_kie_callbacks_through_the_gateway_route_complete_jobs_with_the_token_in_the_url(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results, relay: CallbackRelay
):
    await kie.configure(generation_seconds=0.3)
    settings = settings_for(
        nats_url,
        kie.url,
        kie_poll_initial_seconds=60.0,
        kie_callback_base_url=relay.base_url,
        kie_callback_token=CALLBACK_TOKEN,
    )
    async with running_imagegen(settings) as service:
        jobs = [make_job(chat_id=100 + i) for i in range(3)]
        for job in jobs:
            await publish_job(js, job)
        got = await results.wait_for(3, timeout=15)
        assert {r.job_id for r in got} == {j.job_id for j in jobs}
        assert all(r.outcome == "succeeded" for r in got)
        assert relay.received == 3 and relay.rejected == 0
        assert service.stats.callbacks["woke_local_job"] == 3


async def _succeeded_task(kie: KieEmulatorControl) -> bool:
    tasks = await kie.tasks()
    return bool(tasks) and tasks[0]["state"] == "success"
