"""The public Kie.ai endpoints: createTask, recordInfo, chat/credit, common/download-url and the result files."""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web

from imagebot_emulators.kie.callbacks import CallbackSender
from imagebot_emulators.kie.config import PRICE_PER_IMAGE, Z_IMAGE, Z_IMAGE_PROMPT_MAX, Z_IMAGE_RATIOS, EmulatorConfig
from imagebot_emulators.kie.images import draw_png
from imagebot_emulators.kie.state import FAIL, EmulatorState, Task, now_ms

OTHER_MODELS_PROMPT_MAX = 3000


class KieApi:
    def __init__(self, config: EmulatorConfig, state: EmulatorState, sender: CallbackSender) -> None:
        self.config, self.state, self.sender = config, state, sender
        self._images: OrderedDict[str, bytes] = OrderedDict()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/v1/jobs/createTask", self.create_task),
            web.get("/api/v1/jobs/recordInfo", self.record_info),
            web.get("/api/v1/chat/credit", self.credit),
            web.post("/api/v1/common/download-url", self.download_url),
            web.get("/files/{task_id}.png", self.file),
        ]

    # -- helpers -------------------------------------------------------------------------------------------
    def envelope(self, code: int, msg: str, data: Any = None) -> web.Response:
        status = code if self.config.real_http_status and code != 200 and 100 <= code <= 599 else 200
        return web.json_response({"code": code, "msg": msg, "data": data}, status=status)

    def api_key(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        key = header.removeprefix("Bearer ").strip()
        if not key or (self.config.accepted_keys and key not in self.config.accepted_keys):
            return None
        return key

    def validate(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "request body must be a JSON object"
        model = body.get("model")
        known = model == Z_IMAGE or model in self.config.extra_models
        if not isinstance(model, str) or not known:
            return f"model {model!r} is not supported"
        task_input = body.get("input")
        if not isinstance(task_input, dict):
            return "input is required"
        prompt = task_input.get("prompt")
        limit = Z_IMAGE_PROMPT_MAX if model == Z_IMAGE else OTHER_MODELS_PROMPT_MAX
        if not isinstance(prompt, str) or not prompt.strip():
            return "input.prompt is required"
        if len(prompt) > limit:
            return f"input.prompt exceeds the maximum length of {limit} characters"
        ratio = task_input.get("aspect_ratio")
        if model == Z_IMAGE and ratio not in Z_IMAGE_RATIOS:
            return f"input.aspect_ratio must be one of {', '.join(Z_IMAGE_RATIOS)}"
        callback = body.get("callBackUrl")
        if callback is not None and not (isinstance(callback, str) and callback.startswith(("http://", "https://"))):
            return "callBackUrl must be an http(s) URL"
        return None

    # -- createTask ----------------------------------------------------------------------------------------
    async def create_task(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        call: dict[str, Any] = {"endpoint": "createTask", "body": body}
        response, delay = self._create(request, body, call)
        self.state.record_call(call)
        if delay > 0:
            await asyncio.sleep(delay)
        return response

    def _create(self, request: web.Request, body: Any, call: dict[str, Any]) -> tuple[web.Response, float]:
        key = self.api_key(request)
        if key is None:
            call["code"] = 401
            return self.envelope(401, "You do not have access permissions"), 0.0
        fault = self.state.take_fault("createTask")
        if fault is not None and fault.code:
            call["code"] = fault.code
            return self.envelope(fault.code, fault.msg or f"Scripted error {fault.code}"), fault.delay
        problem = self.validate(body)
        if problem:
            call["code"] = 422
            return self.envelope(422, problem), 0.0
        if not self.state.create_window.allow(key, self.config.create_limit, self.config.create_window):
            call["code"] = 429
            return self.envelope(429, "Rate limit exceeded: too many new generation requests"), 0.0
        if self.state.credits < PRICE_PER_IMAGE:
            call["code"] = 402
            return self.envelope(402, "Insufficient credits"), 0.0
        self.state.credits = round(self.state.credits - PRICE_PER_IMAGE, 4)
        task = Task(
            task_id=self.state.new_task_id(),
            api_key=key,
            model=body["model"],
            request=body,
            generation_seconds=self.config.generation_seconds,
            created_monotonic=time.monotonic(),
            create_time=now_ms(),
        )
        outcome = self.state.take_fault("task")
        if outcome is not None:
            task.fail_code, task.fail_msg = outcome.fail_code or "500", outcome.fail_msg or "Internal server error"
        self.state.tasks[task.task_id] = task
        asyncio.get_running_loop().call_later(max(0.0, task.generation_seconds), self._complete, task)
        call["code"], call["task_id"] = 200, task.task_id
        return self.envelope(200, "success", {"taskId": task.task_id}), fault.delay if fault else 0.0

    def _complete(self, task: Task) -> None:
        if self.state.tasks.get(task.task_id) is not task:
            return  # reset in between
        task.complete_time = now_ms()
        if task.outcome == FAIL:
            self.state.credits = round(self.state.credits + PRICE_PER_IMAGE, 4)  # failed tasks are not charged
        if task.callback_url and self.config.callbacks_enabled:
            self.send_callback(task, self.config.callback_delay, self.config.callback_copies)

    def send_callback(self, task: Task, delay: float, copies: int = 1) -> None:
        record = task.record(self.config.base_url(), time.monotonic())
        for copy in range(max(0, copies)):
            self.sender.send_later(
                task.callback_url or "",
                record,
                hmac_key=self.config.hmac_key,
                delay=delay + 0.05 * copy,
                retries=self.config.callback_retries,
                sink=self.state.record_callback,
            )

    # -- recordInfo ----------------------------------------------------------------------------------------
    async def record_info(self, request: web.Request) -> web.Response:
        task_id = request.query.get("taskId", "")
        call: dict[str, Any] = {"endpoint": "recordInfo", "task_id": task_id}
        response, delay = self._record(request, task_id, call)
        self.state.record_call(call)
        if delay > 0:
            await asyncio.sleep(delay)
        return response

    def _record(self, request: web.Request, task_id: str, call: dict[str, Any]) -> tuple[web.Response, float]:
        key = self.api_key(request)
        if key is None:
            call["code"] = 401
            return self.envelope(401, "Unauthorized"), 0.0
        if not task_id:
            call["code"] = 400
            return self.envelope(400, "taskId parameter is required"), 0.0
        if not self.state.record_window.allow(key, self.config.record_rate, 1.0):
            call["code"] = 429
            return self.envelope(429, "Rate limit exceeded"), 0.0
        fault = self.state.take_fault("recordInfo")
        if fault is not None and fault.code:
            call["code"] = fault.code
            return self.envelope(fault.code, fault.msg or f"Scripted error {fault.code}"), fault.delay
        task = self.state.tasks.get(task_id)
        if task is None:
            call["code"] = 404 if self.config.unknown_task == "404" else 422
            if self.config.unknown_task == "404":
                return self.envelope(404, "Task not found"), 0.0
            return self.envelope(422, "recordInfo is null"), 0.0
        record = task.record(self.config.base_url(), time.monotonic())
        call["code"], call["state"] = 200, record["state"]
        return self.envelope(200, "success", record), fault.delay if fault else 0.0

    # -- the rest ------------------------------------------------------------------------------------------
    async def credit(self, request: web.Request) -> web.Response:
        self.state.record_call({"endpoint": "credit"})
        if self.api_key(request) is None:
            return self.envelope(401, "Unauthorized")
        balance = self.state.credits
        return self.envelope(200, "success", int(balance) if float(balance).is_integer() else balance)

    async def download_url(self, request: web.Request) -> web.Response:
        if self.api_key(request) is None:
            return self.envelope(401, "Unauthorized")
        try:
            url = (await request.json()).get("url", "")
        except (json.JSONDecodeError, AttributeError):
            url = ""
        if not isinstance(url, str) or not url.startswith(self.config.base_url() + "/files/"):
            return self.envelope(422, "The URL is not a Kie-generated file")
        return self.envelope(200, "success", f"{url}?download=1")

    async def file(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        task = self.state.tasks.get(task_id)
        if task is None or task.state(time.monotonic()) != "success":
            return web.Response(status=404, text="Not Found")
        png = self._images.get(task_id)
        if png is None:
            png = await asyncio.to_thread(
                draw_png, task.prompt, task.aspect_ratio, self.config.image_long_side, task.model
            )
            self._images[task_id] = png
            while len(self._images) > 256:
                self._images.popitem(last=False)
        self.state.record_call({"endpoint": "file", "task_id": task_id})
        return web.Response(body=png, content_type="image/png")

    def clear_images(self) -> None:
        self._images.clear()
