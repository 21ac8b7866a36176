"""Bodies at the edge of the 1 MiB limit, on a gateway of its own (one of them used to cut it off NATS for good)
against a nats-server with its default max_payload (1 MiB), as `make run` and these tests start it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from tests.integration.security.conftest import BOT_TOKEN, SECRET_HEADER, WEBHOOK_SECRET
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
AUTH = {SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"}


@pytest.fixture
def gateway(nats_url: str, js: JetStreamContext) -> Iterator[str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "NATS_URL": nats_url,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: no Telegram needed here
        "BOT_MODE": "webhook",
        "WEBHOOK_BASE_URL": base_url,
        "WEBHOOK_SECRET_TOKEN": WEBHOOK_SECRET,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLISH_TIMEOUT": "1",  # a publish into a dead connection fails after 1 s, not 5
    }
    with ServiceProcess("imagebot_gateway", env, name="size-gateway") as process:
        process.wait_http_ok(f"{base_url}/readyz", timeout=30)
        yield base_url


def update_of_size(update_id: int, size: int) -> bytes:
    """A well-formed message update whose JSON is exactly `size` bytes (the text pads it)."""
    head = {"update_id": update_id, "message": {"message_id": 1, "chat": {"id": 7, "type": "private"}, "text": ""}}
    empty = json.dumps(head).encode()
    head["message"]["text"] = "x" * (size - len(empty))
    return json.dumps(head).encode()


async def test_bodies_over_the_limit_get_413_and_leave_the_gateway_serving(gateway: str, js: JetStreamContext):
    """Injects: an update of 1 MiB + 1 byte, and 2 MiB of spaces, both with the right secret.
    Asserts: 413 each; the next ordinary update gets 200 and is stored."""
    async with httpx.AsyncClient(timeout=30) as http:
        over = await http.post(f"{gateway}/webhook", content=update_of_size(1, MIB + 1), headers=AUTH)
        huge = await http.post(f"{gateway}/webhook", content=b" " * (2 * MIB), headers=AUTH)
        normal = await http.post(f"{gateway}/webhook", content=update_of_size(2, 200), headers=AUTH)

    assert (over.status_code, huge.status_code, normal.status_code) == (413, 413, 200)
    assert (await js.stream_info(subjects.UPDATES_STREAM)).state.messages == 1


@pytest.mark.parametrize("kind", ["update", "unparsable"])
async def test_a_body_just_under_the_limit_is_taken_or_refused_without_cutting_the_gateway_off_nats(
    gateway: str, js: JetStreamContext, kind: str
):
    """Injects: one authenticated body of 1 MiB - 64 bytes (under the 413 limit): a well-formed update, or
    bytes that are no update (the dead-letter path).
    Asserts: the answer is 200 or 413, never a 5xx; within 3 s an ordinary update is again answered 200."""
    body = update_of_size(1, MIB - 64) if kind == "update" else b"#" * (MIB - 64)
    async with httpx.AsyncClient(timeout=30) as http:
        edge = await http.post(f"{gateway}/webhook", content=body, headers=AUTH)

        async def serving_again() -> bool:
            response = await http.post(f"{gateway}/webhook", content=update_of_size(2, 200), headers=AUTH)
            return response.status_code == 200

        await wait_until(serving_again, timeout=3, interval=0.25, message="the gateway storing updates again")
    assert edge.status_code in (200, 413), edge.text
