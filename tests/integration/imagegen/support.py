"""Helpers for imagegen's integration tests: jobs in, results out, a stand-in for the gateway's callback route."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from imagebot_common.messages.v1 import ImageJobV1, ImageResultV1, KieCallbackV1
from imagebot_common.nats import subjects, topology
from imagebot_imagegen.service import ImagegenService
from imagebot_imagegen.settings import ImagegenSettings
from tests.support.kie import TEST_API_KEY
from tests.support.ports import free_port

CALLBACK_TOKEN = "callback-token-for-tests-42"


def make_job(chat_id: int = 4242, prompt: str = "a lighthouse at dusk", **fields: Any) -> ImageJobV1:
    return ImageJobV1(
        job_id=fields.pop("job_id", f"job-{uuid.uuid4().hex[:12]}"),
        bot_id=1,
        chat_id=chat_id,
        user_id=chat_id,
        prompt=prompt,
        **fields,
    )


async def publish_job(js: JetStreamContext, job: ImageJobV1) -> None:
    await js.publish(subjects.IMAGE_JOBS_SUBJECT, job.to_bytes(), headers={subjects.MSG_ID_HEADER: job.job_id})


def settings_for(nats_url: str, kie_url: str, **overrides: Any) -> ImagegenSettings:
    values: dict[str, Any] = {
        "kie_api_key": TEST_API_KEY,
        "kie_api_url": kie_url,
        "nats_url": nats_url,
        "health_host": "127.0.0.1",
        "health_port": free_port(),
        "kie_poll_initial_seconds": 0.3,
        "kie_retry_backoff_seconds": 0.1,
        "kie_status_rate_per_second": 200,
        "kie_create_rate_limit": 200,
        "kie_create_rate_window_seconds": 1.0,
        "kie_request_timeout_seconds": 5.0,
        "image_job_timeout_seconds": 30.0,
        "shutdown_grace_seconds": 2.0,
        "kie_credit_cache_seconds": 0.0,
    }
    values.update(overrides)
    return ImagegenSettings(**values)


@asynccontextmanager
async def running_imagegen(settings: ImagegenSettings) -> AsyncIterator[ImagegenService]:
    service = ImagegenService(settings)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


class Results:
    """Reads ImageResultV1 events from the UPDATES stream (`tg.p.<partition>.evt.<chat>`), as the dispatcher does."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.seen: list[tuple[dict[str, str], ImageResultV1]] = []
        self._sub: Any = None

    async def start(self) -> Results:
        await topology.ensure_stream(self._js, topology.updates_stream(topology.UpdatesStreamLimits()))
        self._sub = await self._js.pull_subscribe(
            f"{subjects.PARTITIONED_PREFIX}.*.evt.*",
            durable="test-results",
            stream=subjects.UPDATES_STREAM,
            config=ConsumerConfig(max_ack_pending=10_000),
        )
        return self

    async def _drain(self, wait: float) -> None:
        try:
            msgs = await self._sub.fetch(1000, timeout=wait)
        except (NatsTimeoutError, TimeoutError):
            return
        for msg in msgs:
            self.seen.append((dict(msg.headers or {}), ImageResultV1.model_validate_json(msg.data)))
            await msg.ack()

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[ImageResultV1]:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.seen)} results after {timeout}s, wanted {count}")
            await self._drain(0.2)
        return [result for _, result in self.seen]

    async def settle(self, seconds: float = 0.5) -> list[ImageResultV1]:
        """Everything published so far, after a short quiet period (to catch a late duplicate)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self._drain(0.1)
        return [result for _, result in self.seen]

    def headers_of(self, job_id: str) -> dict[str, str]:
        return next(h for h, r in self.seen if r.job_id == job_id)


class CallbackRelay:
    """What the gateway's callback route does: check the URL token, publish a KieCallbackV1 to kie.callbacks."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.received = 0
        self.rejected = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if request.query.get("token") != CALLBACK_TOKEN:
            self.rejected += 1
            return web.json_response({"ok": False}, status=401)
        body = await request.json()
        data = body.get("data") or {}
        callback = KieCallbackV1(task_id=data["taskId"], state=data.get("state"), code=body.get("code"))
        await self._js.publish(
            subjects.KIE_CALLBACKS_SUBJECT,
            callback.to_bytes(),
            headers={subjects.MSG_ID_HEADER: subjects.kie_callback_msg_id(callback.task_id, callback.state)},
        )
        self.received += 1
        return web.json_response({"code": 200, "msg": "success"})

    async def start(self) -> CallbackRelay:
        app = web.Application()
        app.router.add_post("/callbacks/kie", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def publish_callback(js: JetStreamContext, task_id: str, state: str = "success") -> None:
    callback = KieCallbackV1(task_id=task_id, state=state, code=200 if state == "success" else 501)
    await js.publish(
        subjects.KIE_CALLBACKS_SUBJECT,
        callback.to_bytes(),
        headers={subjects.MSG_ID_HEADER: subjects.kie_callback_msg_id(task_id, state)},
    )
