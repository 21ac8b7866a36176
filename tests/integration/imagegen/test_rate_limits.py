"""imagegen's own createTask limiter keeps a burst under Kie's 20-new-tasks-per-10-s limit (slow: chaos)."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext

from tests.integration.imagegen.support import Results, make_job, publish_job, running_imagegen, settings_for
from tests.support.kie import KieEmulatorControl

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


async def test_a_burst_of_25_jobs_is_spread_so_kie_never_answers_429(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results
):
    await kie.configure(generation_seconds=0.2)  # the emulator enforces 20 per 10 s, as Kie does
    settings = settings_for(nats_url, kie.url, kie_create_rate_limit=20, kie_create_rate_window_seconds=10.0)
    async with running_imagegen(settings):
        for i in range(25):
            await publish_job(js, make_job(chat_id=300 + i))
        got = await results.wait_for(25, timeout=40)
    assert all(r.outcome == "succeeded" for r in got)
    codes = [c["code"] for c in await kie.calls("createTask")]
    assert codes == [200] * 25
