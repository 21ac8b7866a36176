"""No secret leaves a service: one end-to-end run with recognisable secrets, then every log line, every exported
span and every metric of gateway, dispatcher and imagegen is searched for them.

The run also walks the error paths where secrets tend to escape: a Kie callback with the right token in its
URL but a broken body, one with a wrong token, a Telegram 500 on a send (retried, logged) and a Kie.ai 500 on
createTask (retried, logged). (tests/e2e/test_picture_flow.py checks the logs of a happy run only.)
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from nats.js import JetStreamContext

from imagebot_emulators.otlp import OtlpReceiver
from tests.support.chaos_stack import health_url, services
from tests.support.picture_users import photos_of, request_picture
from tests.support.stack import (
    STACK_CALLBACK_TOKEN,
    STACK_KIE_KEY,
    STACK_TOKEN,
    STACK_WEBHOOK_SECRET,
    Stack,
    start_stack,
)
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

USER = 76_001
SECRETS = {
    "bot token": STACK_TOKEN,
    "bot token secret part": STACK_TOKEN.split(":", 1)[1],
    "bot token, URL-encoded": quote(STACK_TOKEN, safe=""),
    "webhook secret": STACK_WEBHOOK_SECRET,
    "Kie API key": STACK_KIE_KEY,
    "Kie callback token": STACK_CALLBACK_TOKEN,
}


@pytest.fixture
def traced_stack(nats_url: str, js: JetStreamContext) -> Iterator[tuple[Stack, OtlpReceiver]]:
    with OtlpReceiver() as otlp:
        stack = start_stack(nats_url, extra_env=otlp.env())
        try:
            yield stack, otlp
        finally:
            stack.stop()


def hits(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


async def test_no_secret_appears_in_any_log_line_span_or_metric_of_an_end_to_end_run(traced_stack):
    """Injects: a picture request through the Telegram emulator, with one Telegram 500 on sendMessage and one
    Kie.ai 500 on createTask on the way; a Kie callback carrying the right token but no JSON, and one with a
    wrong token; then SIGTERM of every service (shutdown logs and the last span export included).
    Asserts: none of the bot token (whole, secret part, URL-encoded), webhook secret, Kie key or callback token
    occurs in the services' logs, in the OTLP export requests they sent, or in their /metrics text."""
    stack, otlp = traced_stack
    kie = stack.kie()
    try:
        await stack.user.fault("sendMessage", 500, count=1)
        await kie.fault("createTask", code=500, count=1)
        async with httpx.AsyncClient(timeout=10) as http:
            garbled = await http.post(f"{stack.gateway_url}/callbacks/kie?token={STACK_CALLBACK_TOKEN}", content=b"{")
            forged = await http.post(f"{stack.gateway_url}/callbacks/kie?token=wrong", json={"data": {"taskId": "t"}})
        await request_picture(stack.user, USER, "секретный маяк")

        async def photo() -> bool:
            return bool(await photos_of(stack.user, USER))

        await wait_until(photo, timeout=60, interval=0.3, message="the photo")
        await wait_until(lambda: any(s.service == "imagegen" for s in otlp.spans), timeout=10, message="spans")
        async with httpx.AsyncClient(timeout=10) as http:
            metrics = {p.name: (await http.get(f"{health_url(p)}/metrics")).text for p in services(stack)}
        creates = await kie.calls("createTask")
        kie_codes = {call.get("code") for call in creates}
        telegram_codes = {r.get("status") for r in await stack.user.requests("sendMessage")}
    finally:
        await kie.aclose()
    for process in services(stack):
        assert process.terminate() == 0  # shutdown paths log too, and flush the last spans
    logs = {p.name: p.logs() for p in services(stack)}
    exported = b"".join(otlp.raw_requests).decode("utf-8", errors="replace")
    spans = "\n".join(span.raw for span in otlp.spans)

    assert (garbled.status_code, forged.status_code) == (400, 401)
    assert 500 in kie_codes and 500 in telegram_codes, "both injected errors were met (and retried)"
    assert STACK_CALLBACK_TOKEN in str(creates), "the control: the token did travel (in the Kie callback URL)"
    assert {name: hits(text) for name, text in logs.items()} == {name: [] for name in logs}
    assert hits(exported) == [] and hits(spans) == []
    assert {name: hits(text) for name, text in metrics.items()} == {name: [] for name in metrics}
    assert len(otlp.spans) > 10 and {s.service for s in otlp.spans} >= {"gateway", "dispatcher", "imagegen"}
    assert all(text.strip() for text in metrics.values())
