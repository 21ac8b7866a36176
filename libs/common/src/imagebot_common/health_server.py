"""The small HTTP server the dispatcher and imagegen run for probes and metrics.

`/healthz` (alive), `/readyz` (can do its work: 200 or 503), `/health` (figures for humans) and `/metrics`
(Prometheus text). The gateway serves the same paths from its own Litestar app.

Given the service's NATS client, a client that nats-py closed for good (see `imagebot_common.nats.connection`)
makes the process neither alive nor ready, whatever the service's own checks say: it cannot recover by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from imagebot_common.nats.connection import closed_for_good

log = logging.getLogger("imagebot.health")

Readiness = Callable[[], Awaitable[bool]]
Details = Callable[[], Awaitable[dict[str, Any]]]


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        service: str,
        instance_id: str,
        is_alive: Callable[[], bool],
        is_ready: Readiness,
        details: Details,
        nats: Client | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._host, self._port = host, port
        self._service, self._instance_id = service, instance_id
        self._is_alive, self._is_ready, self._details = is_alive, is_ready, details
        self._nats = nats
        self._registry = registry
        self._runner: web.AppRunner | None = None

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        return app

    def _nats_closed(self) -> str | None:
        return closed_for_good(self._nats) if self._nats is not None else None

    def _alive(self) -> bool:
        return self._nats_closed() is None and self._is_alive()

    async def _healthz(self, _: web.Request) -> web.Response:
        alive = self._alive()
        body: dict[str, Any] = {
            "status": "ok" if alive else "failing",
            "service": self._service,
            "instance": self._instance_id,
        }
        if closed := self._nats_closed():
            body["nats_closed"] = closed
        return web.json_response(body, status=200 if alive else 503)

    async def _readyz(self, _: web.Request) -> web.Response:
        ready = self._nats_closed() is None and await self._is_ready()
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def _health(self, _: web.Request) -> web.Response:
        body: dict[str, Any] = {"status": "ok" if self._alive() else "failing", "service": self._service}
        body["instance"] = self._instance_id
        body["nats_closed"] = self._nats_closed()
        body.update(await self._details())
        return web.json_response(body)

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
