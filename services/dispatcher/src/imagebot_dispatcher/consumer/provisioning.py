"""Idempotent provisioning of the per-partition consumers through the raw JetStream API.

nats-py 2.16 has no fields for ADR-42 priority groups, so the consumer is created with
`$JS.API.CONSUMER.CREATE.<stream>.<name>`; an empty action means "create, or update if it exists", so a changed
`max_ack_pending` or `ack_wait` is applied on the next start and an identical config is a no-op.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamInfo
from nats.js.errors import NotFoundError

from imagebot_common.nats import subjects
from imagebot_dispatcher.consumer.options import PRIORITY_GROUP, EngineOptions
from imagebot_dispatcher.consumer.partitions import consumer_name

log = logging.getLogger("imagebot.dispatcher.consumer")

NANOS = 1_000_000_000


class ProvisioningError(RuntimeError):
    pass


def consumer_config(partition: int, count: int, options: EngineOptions) -> dict[str, Any]:
    """No `backoff` (it would silently replace ack_wait) and unlimited deliveries: a message that reached
    `max_deliver` would stay stored forever and block its chat's head; the engine dead-letters instead."""
    return {
        "durable_name": consumer_name(partition, count),
        "description": f"dispatcher, partition {partition} of {count}",
        "filter_subject": subjects.partition_filter(partition),
        "deliver_policy": "all",
        "ack_policy": "explicit",
        "ack_wait": int(options.ack_wait * NANOS),
        "max_deliver": -1,
        "max_ack_pending": options.max_ack_pending,
        "replay_policy": "instant",
        "num_replicas": options.replicas,
        "priority_groups": [PRIORITY_GROUP],
        "priority_policy": "pinned_client",
        "priority_timeout": int(options.pin_timeout * NANOS),
    }


async def ensure_partition_consumer(nc: Client, partition: int, count: int, options: EngineOptions) -> dict[str, Any]:
    config = consumer_config(partition, count, options)
    request = {"stream_name": options.stream, "config": config}
    reply = await nc.request(
        f"$JS.API.CONSUMER.CREATE.{options.stream}.{config['durable_name']}", json.dumps(request).encode(), timeout=5
    )
    body = json.loads(reply.data)
    if "error" in body:
        raise ProvisioningError(f"consumer {config['durable_name']}: {body['error']}")
    return body


async def ensure_partition_consumers(nc: Client, count: int, options: EngineOptions) -> list[str]:
    await asyncio.gather(*(ensure_partition_consumer(nc, p, count, options) for p in range(count)))
    return [consumer_name(p, count) for p in range(count)]


async def wait_for_stream(js: JetStreamContext, options: EngineOptions) -> StreamInfo:
    """The gateway owns the updates stream; the dispatcher may start first, so it waits (and says so once)."""
    announced = False
    while True:
        try:
            return await js.stream_info(options.stream)
        except NotFoundError:
            if not announced:
                log.info("waiting for stream %s (the gateway provisions it)", options.stream)
                announced = True
        except Exception as exc:  # NATS not reachable yet, timeouts: keep waiting, never die
            log.warning("cannot read stream %s yet: %s", options.stream, exc)
        await asyncio.sleep(options.stream_poll_interval)


async def unpin(nc: Client, stream: str, consumer: str) -> None:
    """Hand the partition over now instead of after the pin timeout (graceful shutdown)."""
    body = json.dumps({"group": PRIORITY_GROUP}).encode()
    await nc.request(f"$JS.API.CONSUMER.UNPIN.{stream}.{consumer}", body, timeout=2)
