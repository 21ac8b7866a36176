"""What the gateway's HTTP handlers share, built once in __main__ (Litestar's app.state holds it)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from imagebot_common.nats.connection import closed_for_good
from imagebot_gateway.bot_api import BotApi
from imagebot_gateway.intake import UpdateIntake
from imagebot_gateway.lease import Lease
from imagebot_gateway.settings import GatewaySettings
from imagebot_gateway.stats import IntakeStats

log = logging.getLogger("imagebot.gateway")

PROBE_TIMEOUT = 1.0


@dataclass
class GatewayState:
    settings: GatewaySettings
    nc: Client
    js: JetStreamContext
    bot: BotApi
    intake: UpdateIntake
    stats: IntakeStats
    webhook_secret: str
    streams_ready: asyncio.Event = field(default_factory=asyncio.Event)
    lease: Lease | None = None

    async def queue_depth(self) -> int | None:
        """Updates stored and not yet handled by the dispatcher (work-queue: handled ones are gone)."""
        try:
            info = await asyncio.wait_for(self.js.stream_info(subjects.UPDATES_STREAM), PROBE_TIMEOUT)
        except (NatsError, TimeoutError):
            return None
        return info.state.messages

    def nats_closed(self) -> str | None:
        """Why nats-py closed the client for good (this process can never store an update again), or None."""
        return closed_for_good(self.nc)

    def alive(self) -> bool:
        return self.nats_closed() is None

    async def ready(self) -> bool:
        """NATS connected and the updates stream answers: an update sent now would be stored."""
        if not (self.alive() and self.nc.is_connected and self.streams_ready.is_set()):
            return False
        return await self.queue_depth() is not None
