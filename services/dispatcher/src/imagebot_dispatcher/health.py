"""The dispatcher's probes: alive unless a consumer task died or nats-py closed the client for good; ready once
it consumes with NATS connected."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client

from imagebot_common.health_server import HealthServer
from imagebot_dispatcher.consumer.engine import ConsumptionEngine
from imagebot_dispatcher.settings import DispatcherSettings


def build_health_server(settings: DispatcherSettings, engine: ConsumptionEngine, nc: Client) -> HealthServer:
    async def is_ready() -> bool:
        return engine.is_ready()

    async def details() -> dict[str, Any]:
        return {"nats_connected": nc.is_connected, **engine.details()}

    return HealthServer(
        settings.health_host,
        settings.health_port,
        service="dispatcher",
        instance_id=settings.instance_id,
        is_alive=engine.is_alive,
        is_ready=is_ready,
        details=details,
        nats=nc,
    )
