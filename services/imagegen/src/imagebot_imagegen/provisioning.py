"""What imagegen owns in JetStream, created (or updated) at start-up; nothing is ever deleted."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from imagebot_common.nats import subjects, topology
from imagebot_imagegen.settings import ImagegenSettings


@dataclass(frozen=True)
class Provisioned:
    jobs_kv: KeyValue
    images: ObjectStore


async def provision(js: JetStreamContext, settings: ImagegenSettings) -> Provisioned:
    replicas = settings.nats_replicas
    await topology.ensure_stream(
        js, topology.image_jobs_stream(max_msgs=settings.image_jobs_stream_max_msgs, replicas=replicas)
    )
    await topology.ensure_consumer(
        js,
        subjects.IMAGE_JOBS_STREAM,
        topology.image_jobs_consumer(settings.image_jobs_max_in_flight, ack_wait=settings.image_job_ack_wait_seconds),
    )
    await topology.ensure_stream(js, topology.kie_callbacks_stream(replicas=replicas))
    await topology.ensure_consumer(js, subjects.KIE_CALLBACKS_STREAM, topology.kie_callbacks_consumer())
    jobs_kv = await topology.ensure_key_value(
        js, topology.image_jobs_bucket(ttl=settings.image_jobs_kv_ttl_seconds, replicas=replicas)
    )
    images = await topology.ensure_object_store(
        js, topology.images_object_store(ttl=settings.image_store_ttl_seconds, replicas=replicas)
    )
    return Provisioned(jobs_kv=jobs_kv, images=images)
