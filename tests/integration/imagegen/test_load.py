"""1,000 jobs in flight in one imagegen process, each a 10 s Kie generation: all done in well under a minute."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.js import JetStreamContext

from tests.integration.imagegen.support import (
    CALLBACK_TOKEN,
    CallbackRelay,
    Results,
    make_job,
    publish_job,
    running_imagegen,
    settings_for,
)
from tests.support.kie import KieEmulatorControl
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

JOBS = 1000
GENERATION_SECONDS = 10.0


async def test_a_thousand_concurrent_jobs_with_10_s_generations_finish_in_well_under_a_minute(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results, relay: CallbackRelay
):
    # The account limits are lifted on both sides here: the point is imagegen's own concurrency.
    await kie.configure(
        generation_seconds=GENERATION_SECONDS, create_limit=0, record_rate=0, image_long_side=256, credits=10_000
    )
    settings = settings_for(
        nats_url,
        kie.url,
        kie_create_rate_limit=2000,
        kie_status_rate_per_second=1000,
        kie_poll_initial_seconds=3.0,
        kie_callback_base_url=relay.base_url,
        kie_callback_token=CALLBACK_TOKEN,
        image_job_timeout_seconds=120.0,
        image_jobs_max_in_flight=1500,
        kie_request_timeout_seconds=30.0,
    )
    async with running_imagegen(settings) as service:
        jobs = [make_job(chat_id=10_000 + i, prompt=f"picture number {i}") for i in range(JOBS)]
        started = time.monotonic()
        await asyncio.gather(*(publish_job(js, job) for job in jobs))
        got = await results.wait_for(JOBS, timeout=120)
        elapsed = time.monotonic() - started
        creates = await kie.calls("createTask")
        first = min(c["at"] for c in creates)
        print(
            f"\n{JOBS} jobs with {GENERATION_SECONDS:.0f} s generations: all results after {elapsed:.1f} s "
            f"(createTask calls spread over {max(c['at'] for c in creates) - first:.1f} s)"
        )
        assert {r.job_id for r in got} == {j.job_id for j in jobs}
        failures = {(r.error.kind, r.error.message[:80]) for r in got if r.error is not None}
        assert failures == set()
        assert len(creates) == JOBS
        assert elapsed < 50  # "well under a minute" with room for a busy CI machine; measured ~23 s
        await wait_until(lambda: service.stats.succeeded == JOBS, timeout=5)
