"""What the gateway owns in JetStream, applied at start-up and retried until NATS answers."""

from __future__ import annotations

import asyncio
import logging

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from imagebot_common.nats import topology
from imagebot_gateway.settings import GatewaySettings

log = logging.getLogger("imagebot.gateway.provisioning")


def updates_limits(settings: GatewaySettings) -> topology.UpdatesStreamLimits:
    return topology.UpdatesStreamLimits(
        max_msgs=settings.update_queue_size,
        max_bytes=settings.update_stream_max_bytes,
        duplicate_window=settings.update_dedup_window,
        partitions=settings.dispatch_partitions,
        replicas=settings.nats_replicas,
    )


async def provision_once(js: JetStreamContext, settings: GatewaySettings) -> KeyValue:
    replicas = settings.nats_replicas
    await topology.ensure_stream(js, topology.updates_stream(updates_limits(settings)))
    await topology.ensure_stream(js, topology.dead_letter_stream(replicas))
    await topology.ensure_stream(js, topology.kie_callbacks_stream(replicas))
    return await topology.ensure_key_value(js, topology.leases_bucket(settings.lease_ttl, replicas))


async def provision(js: JetStreamContext, settings: GatewaySettings) -> KeyValue:
    """Retry until the topology is in place: the gateway may start before NATS does."""
    delay = 0.5
    while True:
        try:
            leases = await provision_once(js, settings)
            log.info("JetStream topology ready (streams UPDATES, DEAD_LETTERS, KIE_CALLBACKS; bucket leases)")
            return leases
        except (NatsError, TimeoutError) as exc:
            log.warning("JetStream not ready (%s); retrying in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
