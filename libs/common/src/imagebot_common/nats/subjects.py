"""Every subject, stream, consumer and bucket name in one place.

Updates and per-chat events share one work-queue stream. A subject transform inserts a partition number
computed by the server from the chat key, so the dispatcher can give each partition one owner and keep the
chat's order (design: docs/architecture.md, "Per-chat order").
"""

from __future__ import annotations

# Stream of Telegram updates (from the gateway) and per-chat events (image results from imagegen).
UPDATES_STREAM = "UPDATES"
UPDATE_SUBJECT_PREFIX = "tg.in.upd"  # tg.in.upd.<chat key>
EVENT_SUBJECT_PREFIX = "tg.in.evt"  # tg.in.evt.<chat key>
UPDATES_INPUT_SUBJECTS = "tg.in.*.*"
PARTITIONED_PREFIX = "tg.p"  # tg.p.<partition>.<upd|evt>.<chat key>: written only by the server's transform
UPDATE_SUBJECT_TEMPLATE = "tg.in.upd.{chat_id}"
EVENT_SUBJECT_TEMPLATE = "tg.in.evt.{chat_id}"
PARTITION_SUBJECT_TEMPLATE = "tg.p.{partition}.{kind}.{chat_id}"

# Dead letters: whatever could not be handled, with the reason in headers. Kept for inspection.
DEAD_LETTER_STREAM = "DEAD_LETTERS"
DEAD_LETTER_SUBJECTS = "dlq.>"
DLQ_GATEWAY_UNPARSABLE = "dlq.gateway.unparsable"
DLQ_DISPATCHER_POISON = "dlq.dispatcher.poison"
DLQ_IMAGEGEN_POISON = "dlq.imagegen.poison"

# Image jobs from the dispatcher to imagegen.
IMAGE_JOBS_STREAM = "IMAGE_JOBS"
IMAGE_JOBS_SUBJECT = "img.jobs"
IMAGE_JOBS_CONSUMER = "imagegen"

# Kie.ai callbacks, forwarded by the gateway to imagegen.
KIE_CALLBACKS_STREAM = "KIE_CALLBACKS"
KIE_CALLBACKS_SUBJECT = "kie.callbacks"
KIE_CALLBACKS_CONSUMER = "imagegen-callbacks"

# Key-value buckets and the object store.
LEASES_BUCKET = "leases"  # webhook registrar / polling leader leases
HANDLED_UPDATES_BUCKET = "handled_updates"  # update ids already handled (idempotency, >= 24 h)
FSM_BUCKET = "fsm"  # aiogram FSM state and data
IMAGE_JOBS_BUCKET = "image_jobs"  # job id -> Kie task id and state
IMAGES_OBJECT_STORE = "images"  # generated pictures, handed from imagegen to the dispatcher
QUOTAS_BUCKET = "quotas"  # per-user generation counters (dispatcher cost protection)
DELIVERED_RESULTS_BUCKET = "delivered_results"  # job ids whose result reached the user (+ retry prompt)
DISPATCHER_MEMBERS_BUCKET = "dispatcher_members"  # live dispatcher replicas (heartbeats; partition balance)

# Header names carried on our messages (besides W3C traceparent/tracestate).
MSG_ID_HEADER = "Nats-Msg-Id"
DLQ_ERROR_HEADER = "Imagebot-Dlq-Error"
DLQ_SOURCE_HEADER = "Imagebot-Dlq-Source"
DLQ_REASON_HEADER = "Imagebot-Dlq-Reason"  # short machine-readable cause, e.g. handler_error
DLQ_SUBJECT_HEADER = "Imagebot-Dlq-Subject"  # the subject the message was stored under
DLQ_STREAM_HEADER = "Imagebot-Dlq-Stream"
DLQ_STREAM_SEQ_HEADER = "Imagebot-Dlq-Stream-Seq"
DLQ_DELIVERIES_HEADER = "Imagebot-Dlq-Deliveries"


def update_subject(chat_key: int) -> str:
    return f"{UPDATE_SUBJECT_PREFIX}.{chat_key}"


def event_subject(chat_key: int) -> str:
    return f"{EVENT_SUBJECT_PREFIX}.{chat_key}"


def partition_filter(partition: int) -> str:
    return f"{PARTITIONED_PREFIX}.{partition}.>"


def update_msg_id(bot_id: int, update_id: int) -> str:
    return f"{bot_id}:{update_id}"


def kie_callback_msg_id(task_id: str, state: str | None) -> str:
    """Dedup id of a forwarded Kie.ai callback: one message per task and final state."""
    return f"kie:{task_id}:{state or 'unknown'}"
