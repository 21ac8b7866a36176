"""The control API for tests (JSON under /control/): settings, faults, credits, recorded calls, reset."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from aiohttp import web

from imagebot_emulators.kie.api import KieApi
from imagebot_emulators.kie.config import EmulatorConfig
from imagebot_emulators.kie.state import EmulatorState, Fault

FAULT_ENDPOINTS = ("createTask", "recordInfo", "task")


class Control:
    def __init__(self, api: KieApi, config: EmulatorConfig, state: EmulatorState) -> None:
        self.api, self.config, self.state = api, config, state
        self._startup_config = copy.deepcopy(config)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/control/health", self.health),
            web.post("/control/reset", self.reset),
            web.get("/control/config", self.get_config),
            web.post("/control/config", self.set_config),
            web.post("/control/faults", self.add_fault),
            web.delete("/control/faults", self.clear_faults),
            web.get("/control/faults", self.list_faults),
            web.post("/control/credits", self.set_credits),
            web.get("/control/calls", self.calls),
            web.get("/control/tasks", self.tasks),
            web.get("/control/tasks/{task_id}", self.task),
            web.post("/control/tasks/{task_id}/callback", self.resend_callback),
            web.get("/control/callbacks", self.callbacks),
        ]

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise web.HTTPBadRequest(text=f"invalid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="a JSON object is required")
        return body

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True, "tasks": len(self.state.tasks)})

    async def reset(self, _: web.Request) -> web.Response:
        """Forget tasks, calls, callbacks and faults, and go back to the start-up settings."""
        self.api.sender.cancel_all()
        for name, value in vars(copy.deepcopy(self._startup_config)).items():
            setattr(self.config, name, value)
        self.state.reset(self.config.credits)
        self.api.clear_images()
        return web.json_response({"ok": True})

    async def get_config(self, _: web.Request) -> web.Response:
        return web.json_response(self.config.as_dict())

    async def set_config(self, request: web.Request) -> web.Response:
        changes = await self._json(request)
        try:
            self.config.update(changes)
        except (ValueError, TypeError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        if "credits" in changes:
            self.state.credits = self.config.credits
        return web.json_response(self.config.as_dict())

    async def add_fault(self, request: web.Request) -> web.Response:
        """`{"endpoint": "createTask"|"recordInfo", "code": 402, "count": 1, "msg": "...", "delay": 0}` or
        `{"endpoint": "task", "fail_code": "500", "fail_msg": "...", "count": 1}`; `delay` alone (code 0) makes
        the call succeed but answer late."""
        body = await self._json(request)
        endpoint = body.get("endpoint", "createTask")
        if endpoint not in FAULT_ENDPOINTS:
            raise web.HTTPBadRequest(text=f"endpoint must be one of {FAULT_ENDPOINTS}")
        fault = Fault(
            endpoint=endpoint,
            remaining=int(body.get("count", 1)),
            code=int(body.get("code", 0)),
            msg=str(body.get("msg", "")),
            delay=float(body.get("delay", 0.0)),
            fail_code=str(body.get("fail_code", "")),
            fail_msg=str(body.get("fail_msg", "")),
        )
        if endpoint == "task" and not fault.fail_code:
            fault.fail_code = "500"
        self.state.faults.append(fault)
        return web.json_response({"ok": True, "faults": len(self.state.faults)})

    async def list_faults(self, _: web.Request) -> web.Response:
        return web.json_response([vars(f) for f in self.state.faults])

    async def clear_faults(self, _: web.Request) -> web.Response:
        self.state.faults.clear()
        return web.json_response({"ok": True})

    async def set_credits(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        self.state.credits = float(body.get("balance", 0))
        return web.json_response({"balance": self.state.credits})

    async def calls(self, request: web.Request) -> web.Response:
        endpoint = request.query.get("endpoint")
        calls = [c for c in self.state.calls if endpoint is None or c["endpoint"] == endpoint]
        return web.json_response(calls)

    async def tasks(self, _: web.Request) -> web.Response:
        now = time.monotonic()
        base = self.config.base_url()
        return web.json_response([t.record(base, now) for t in self.state.tasks.values()])

    async def task(self, request: web.Request) -> web.Response:
        task = self.state.tasks.get(request.match_info["task_id"])
        if task is None:
            raise web.HTTPNotFound(text="no such task")
        return web.json_response(task.record(self.config.base_url(), time.monotonic()))

    async def resend_callback(self, request: web.Request) -> web.Response:
        """Send the task's callback (again) now, or after `delay` seconds: duplicate and late callbacks."""
        task = self.state.tasks.get(request.match_info["task_id"])
        if task is None or not task.callback_url:
            raise web.HTTPNotFound(text="no such task or it has no callBackUrl")
        body = await self._json(request)
        self.api.send_callback(task, float(body.get("delay", 0.0)), int(body.get("copies", 1)))
        return web.json_response({"ok": True})

    async def callbacks(self, request: web.Request) -> web.Response:
        task_id = request.query.get("task_id")
        return web.json_response([c for c in self.state.callbacks if task_id is None or c["task_id"] == task_id])
