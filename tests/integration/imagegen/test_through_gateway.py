"""The whole callback loop with the real gateway: Kie (emulator, HMAC-signed) -> gateway route -> imagegen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nats.js import JetStreamContext

from tests.integration.imagegen.support import (
    CALLBACK_TOKEN,
    Results,
    make_job,
    publish_job,
    running_imagegen,
    settings_for,
)
from tests.support.kie import KieEmulatorControl
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

HMAC_KEY = "kie-webhook-hmac-key-for-tests"


@pytest.fixture
def gateway(nats_url: str) -> Iterator[str]:
    port = free_port()
    env = {
        "TELEGRAM_BOT_TOKEN": "123456789:TESTtoken-imagegen-000000000000000",
        "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: not needed here
        "BOT_MODE": "webhook",
        "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_SECRET_TOKEN": "test-secret-0123456789",
        "NATS_URL": nats_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "KIE_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "KIE_WEBHOOK_HMAC_KEY": HMAC_KEY,
    }
    with ServiceProcess("imagebot_gateway", env, name="gateway") as process:
        process.wait_http_ok(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"


async def test_signed_kie_callbacks_through_the_gateway_complete_jobs_without_waiting_for_a_poll(
    js: JetStreamContext, nats_url: str, kie: KieEmulatorControl, results: Results, gateway: str
):
    await kie.configure(generation_seconds=0.3, hmac_key=HMAC_KEY)
    settings = settings_for(
        nats_url, kie.url, kie_poll_initial_seconds=60.0, webhook_base_url=gateway, kie_callback_token=CALLBACK_TOKEN
    )
    async with running_imagegen(settings) as service:
        jobs = [make_job(chat_id=700 + i) for i in range(3)]
        for job in jobs:
            await publish_job(js, job)
        got = await results.wait_for(3, timeout=20)
    assert {r.job_id for r in got} == {j.job_id for j in jobs}
    assert all(r.outcome == "succeeded" for r in got)
    delivered = await kie.callbacks()
    assert len(delivered) == 3 and all(c["status"] == 200 for c in delivered)
    assert service.stats.callbacks["woke_local_job"] == 3
