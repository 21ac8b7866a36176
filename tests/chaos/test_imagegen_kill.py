"""kill -9 of imagegen while Kie.ai is generating: no task is paid twice, every request gets one picture."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from tests.support.chaos_stack import health, health_url
from tests.support.picture_users import photos_of, request_picture
from tests.support.stack import Stack, start_stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(240)]

USERS = [72_000 + i for i in range(12)]
GENERATION_SECONDS = "5"
# A killed imagegen's unacked job messages come back after this (production: 30 s); the ledger does the rest.
FAST_JOB_REDELIVERY = {"IMAGE_JOB_ACK_WAIT_SECONDS": "3"}
LATE_DUPLICATE_WINDOW = 5.0  # seconds we keep watching for a second photo after the last first one


@pytest.fixture
async def stack(nats_url: str, js: JetStreamContext) -> AsyncIterator[Stack]:
    running = start_stack(nats_url, extra_env=FAST_JOB_REDELIVERY, generation_seconds=GENERATION_SECONDS)
    yield running
    running.stop()


def prompt_of(user: int) -> str:
    return f"маяк на скале, вариант {user}"


async def test_imagegen_killed_mid_generation_creates_no_second_task_and_delivers_one_photo_per_request(
    stack: Stack, figures: dict
):
    """Injects: 12 users who each ask for a picture (Kie.ai takes 5 s per picture); once Kie holds all 12 tasks,
    SIGKILL of imagegen, then a fresh imagegen process with the same configuration.
    Asserts: the Kie emulator saw exactly one createTask per prompt (no job paid twice); every user got exactly
    one photo, also after a further 5 s of watching; the restarted imagegen resumed the jobs it found running."""
    kie = stack.kie()
    control = stack.user
    try:
        await asyncio.gather(*(request_picture(control, user, prompt_of(user)) for user in USERS))

        async def all_tasks_created() -> bool:
            return len(await kie.successful_creates()) == len(USERS)

        await wait_until(all_tasks_created, timeout=30, interval=0.2, message="a Kie task per request")
        stack.imagegen.kill()
        killed_at = time.monotonic()
        done_before_kill = sum(1 for t in await kie.tasks() if t.get("state") == "success")
        stack.imagegen.start()
        await asyncio.to_thread(stack.imagegen.wait_http_ok, f"{health_url(stack.imagegen)}/readyz", 30)
        restarted_s = time.monotonic() - killed_at

        async def everyone_has_a_photo() -> bool:
            return all([await photos_of(control, user) for user in USERS])

        await wait_until(everyone_has_a_photo, timeout=60, interval=0.5, message="a photo for every user")
        all_photos_s = time.monotonic() - killed_at
        await asyncio.sleep(LATE_DUPLICATE_WINDOW)
        photos = {user: len(await photos_of(control, user)) for user in USERS}
        creates = Counter(call["body"]["input"]["prompt"] for call in await kie.calls("createTask"))
        resumed = health(stack.imagegen).get("jobs_resumed")
    finally:
        await kie.aclose()

    figures.update(
        jobs=len(USERS),
        kills=1,
        tasks_finished_before_kill=done_before_kill,
        create_task_calls=sum(creates.values()),
        jobs_with_two_create_calls=sum(1 for n in creates.values() if n > 1),
        photos=sum(photos.values()),
        users_with_two_photos=sum(1 for n in photos.values() if n > 1),
        jobs_resumed_by_the_new_process=resumed,
        new_process_ready_after_kill_s=round(restarted_s, 2),
        every_photo_delivered_after_kill_s=round(all_photos_s, 2),
    )
    assert done_before_kill < len(USERS), "the kill came while Kie was still generating"
    assert creates == Counter({prompt_of(user): 1 for user in USERS})
    assert photos == {user: 1 for user in USERS}
    assert resumed is not None and resumed >= 1
