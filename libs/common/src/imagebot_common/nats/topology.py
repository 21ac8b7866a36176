"""The JetStream topology, declared once and applied idempotently at start-up.

Each service provisions what it owns (the gateway: updates, dead letters, leases, Kie callbacks; the
dispatcher: its buckets and consumers; imagegen: jobs, job state, images). Applying is "create; if the name
is taken with another configuration, update"; nothing is ever deleted, so a restart never loses data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    SubjectTransform,
)
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from imagebot_common.nats import subjects

log = logging.getLogger("imagebot.topology")

STREAM_NAME_IN_USE = 10058
HOUR = 3600.0
DAY = 24 * HOUR
MIB = 1024 * 1024


@dataclass(frozen=True)
class UpdatesStreamLimits:
    """Bounds of the updates stream. `max_msgs` is UPDATE_QUEUE_SIZE: updates waiting to be handled."""

    max_msgs: int = 100_000
    max_bytes: int = 1024 * MIB
    max_age: float = DAY  # Telegram's own retry horizon: an older update is worthless
    duplicate_window: float = HOUR  # ids held in server memory; longer-lived dedup is the dispatcher's
    partitions: int = 16
    replicas: int = 1


def updates_stream(limits: UpdatesStreamLimits) -> StreamConfig:
    """Work-queue retention: a handled (acked) update leaves the stream, so `max_msgs` bounds the backlog and,
    with discard=new, a full stream refuses new updates (the gateway answers 503) instead of dropping old ones.
    The transform puts the server-computed partition of the chat key (token 2) in front of the subject."""
    return StreamConfig(
        name=subjects.UPDATES_STREAM,
        description="Telegram updates and per-chat events, partitioned by chat",
        subjects=[subjects.UPDATES_INPUT_SUBJECTS],
        subject_transform=SubjectTransform(
            src=subjects.UPDATES_INPUT_SUBJECTS,
            dest=f"{subjects.PARTITIONED_PREFIX}.{{{{partition({limits.partitions},2)}}}}"
            ".{{wildcard(1)}}.{{wildcard(2)}}",
        ),
        retention=RetentionPolicy.WORK_QUEUE,
        discard=DiscardPolicy.NEW,
        max_msgs=limits.max_msgs,
        max_bytes=limits.max_bytes,
        max_age=limits.max_age,
        max_msg_size=MIB + 64 * 1024,
        duplicate_window=limits.duplicate_window,
        storage=StorageType.FILE,
        num_replicas=limits.replicas,
    )


def dead_letter_stream(replicas: int = 1) -> StreamConfig:
    """What could not be handled, kept a week for a human; discard old so it never blocks intake."""
    return StreamConfig(
        name=subjects.DEAD_LETTER_STREAM,
        description="Unparsable or poison messages with the reason in headers",
        subjects=[subjects.DEAD_LETTER_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=7 * DAY,
        max_bytes=256 * MIB,
        max_msg_size=2 * MIB,
        storage=StorageType.FILE,
        num_replicas=replicas,
    )


def image_jobs_stream(max_msgs: int = 10_000, replicas: int = 1) -> StreamConfig:
    """Jobs leave the stream when imagegen acks them; discard new: a full queue tells the user it is busy."""
    return StreamConfig(
        name=subjects.IMAGE_JOBS_STREAM,
        description="Picture jobs from the dispatcher to imagegen",
        subjects=[subjects.IMAGE_JOBS_SUBJECT],
        retention=RetentionPolicy.WORK_QUEUE,
        discard=DiscardPolicy.NEW,
        max_msgs=max_msgs,
        max_age=HOUR,
        max_bytes=64 * MIB,
        duplicate_window=HOUR,
        storage=StorageType.FILE,
        num_replicas=replicas,
    )


def kie_callbacks_stream(replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=subjects.KIE_CALLBACKS_STREAM,
        description="Kie.ai task callbacks, authenticated by the gateway",
        subjects=[subjects.KIE_CALLBACKS_SUBJECT],
        retention=RetentionPolicy.WORK_QUEUE,
        discard=DiscardPolicy.OLD,
        max_age=HOUR,
        max_bytes=64 * MIB,
        duplicate_window=10 * 60,
        storage=StorageType.FILE,
        num_replicas=replicas,
    )


def leases_bucket(ttl: float, replicas: int = 1) -> KeyValueConfig:
    """A lease is a key written with kv.create and renewed with kv.update; the bucket TTL expires it."""
    return KeyValueConfig(bucket=subjects.LEASES_BUCKET, history=1, ttl=ttl, replicas=replicas)


def handled_updates_bucket(replicas: int = 1) -> KeyValueConfig:
    """Update ids (and event ids) the dispatcher handled; kept 25 h, longer than Telegram retries an update (24 h).

    Read with direct gets (no JSON API request and answer per read): any replica may answer, so a record
    written milliseconds ago may be missed, which at most runs a handler once more (at-least-once allows it;
    a redelivery comes an ack wait later, long after the replicas caught up)."""
    return KeyValueConfig(
        bucket=subjects.HANDLED_UPDATES_BUCKET, history=1, ttl=25 * HOUR, replicas=replicas, direct=True
    )


def dispatcher_members_bucket(ttl: float, replicas: int = 1) -> KeyValueConfig:
    """One key per live dispatcher replica, rewritten every heartbeat: the bucket TTL drops a silent replica, so
    the keys present are the members the partitions are balanced over."""
    return KeyValueConfig(bucket=subjects.DISPATCHER_MEMBERS_BUCKET, history=1, ttl=ttl, replicas=replicas)


def fsm_bucket(replicas: int = 1) -> KeyValueConfig:
    """aiogram FSM state and data. No bucket TTL: the storage gives each key its own (Nats-TTL), so an abandoned
    conversation expires while an active one never does.

    Direct gets are allowed; the storage uses them only while the bucket has one replica, the only server that
    can answer them then (with more, a follower could answer with a record it has not caught up on)."""
    return KeyValueConfig(bucket=subjects.FSM_BUCKET, history=1, max_bytes=256 * MIB, replicas=replicas, direct=True)


def quotas_bucket(replicas: int = 1) -> KeyValueConfig:
    """Per-user generation counters (one key per user, CAS-updated); a day plus an hour of inactivity resets one."""
    return KeyValueConfig(
        bucket=subjects.QUOTAS_BUCKET, history=1, ttl=DAY + HOUR, max_bytes=64 * MIB, replicas=replicas
    )


def delivered_results_bucket(ttl: float = 7 * DAY, replicas: int = 1) -> KeyValueConfig:
    """job id -> what was delivered (and the prompt, for "try again"); it must outlive any result redelivery."""
    return KeyValueConfig(
        bucket=subjects.DELIVERED_RESULTS_BUCKET, history=1, ttl=ttl, max_bytes=256 * MIB, replicas=replicas
    )


def image_jobs_bucket(ttl: float = DAY, replicas: int = 1) -> KeyValueConfig:
    """job id -> state and Kie task id (imagegen's exactly-once ledger, written with CAS); it must outlive the
    job stream's max_age so a redelivered job always finds its record."""
    return KeyValueConfig(bucket=subjects.IMAGE_JOBS_BUCKET, history=1, ttl=ttl, max_bytes=256 * MIB, replicas=replicas)


def images_object_store(ttl: float = HOUR, max_bytes: int = 2048 * MIB, replicas: int = 1) -> ObjectStoreConfig:
    """Generated pictures, held only until the dispatcher has sent them (bounded TTL and size)."""
    return ObjectStoreConfig(
        bucket=subjects.IMAGES_OBJECT_STORE,
        description="Generated pictures handed from imagegen to the dispatcher",
        ttl=ttl,
        max_bytes=max_bytes,
        storage=StorageType.FILE,
        replicas=replicas,
    )


def image_jobs_consumer(max_ack_pending: int, ack_wait: float = 30.0) -> ConsumerConfig:
    """imagegen's durable pull consumer: many jobs in flight at once (each heartbeats with in_progress), and
    unlimited redeliveries because the job's own deadline (kept in the image_jobs bucket) bounds its life."""
    return ConsumerConfig(
        durable_name=subjects.IMAGE_JOBS_CONSUMER,
        description="imagegen workers",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=max_ack_pending,
        filter_subject=subjects.IMAGE_JOBS_SUBJECT,
    )


def kie_callbacks_consumer(max_ack_pending: int = 1000, ack_wait: float = 30.0) -> ConsumerConfig:
    """A callback is a hint; after a few redeliveries it is dropped (polling completes the job anyway)."""
    return ConsumerConfig(
        durable_name=subjects.KIE_CALLBACKS_CONSUMER,
        description="imagegen Kie.ai callback handler",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=20,
        max_ack_pending=max_ack_pending,
        filter_subject=subjects.KIE_CALLBACKS_SUBJECT,
    )


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    """Create the durable, or update its editable fields (the server's create is create-or-update)."""
    await js.add_consumer(stream, config)


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        if exc.err_code != STREAM_NAME_IN_USE:
            raise
        log.info("stream %s exists with another configuration; updating it", config.name)
        await js.update_stream(config)


async def ensure_key_value(js: JetStreamContext, config: KeyValueConfig) -> KeyValue:
    try:
        return await js.create_key_value(config)
    except BadRequestError as exc:
        if exc.err_code != STREAM_NAME_IN_USE:
            raise
    stream_name = f"KV_{config.bucket}"
    current = (await js.stream_info(stream_name)).config
    wanted = current.evolve(
        max_age=config.ttl or 0.0,
        max_bytes=config.max_bytes if config.max_bytes is not None else current.max_bytes,
        max_msgs_per_subject=config.history,
        allow_direct=bool(config.direct),
    )
    if wanted != current:
        log.info("bucket %s exists with another configuration; updating it", config.bucket)
        await js.update_stream(wanted)
    return await js.key_value(config.bucket)


async def ensure_object_store(js: JetStreamContext, config: ObjectStoreConfig) -> ObjectStore:
    try:
        # nats-py 2.16 overwrites config.bucket with the `bucket` argument, so pass both.
        return await js.create_object_store(bucket=config.bucket, config=config)
    except BadRequestError as exc:
        if exc.err_code != STREAM_NAME_IN_USE:
            raise
    stream_name = f"OBJ_{config.bucket}"
    current = (await js.stream_info(stream_name)).config
    wanted = current.evolve(max_age=config.ttl or 0.0)
    if config.max_bytes is not None:
        wanted = wanted.evolve(max_bytes=config.max_bytes)
    if wanted != current:
        log.info("object store %s exists with another configuration; updating it", config.bucket)
        await js.update_stream(wanted)
    return await js.object_store(config.bucket)
