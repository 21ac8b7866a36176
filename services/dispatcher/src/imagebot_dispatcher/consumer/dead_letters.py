"""Copies of poison messages on `dlq.dispatcher.poison`, with why, where from, and the trace to find them by."""

from __future__ import annotations

import asyncio
import logging

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from imagebot_common.redaction import redactor
from imagebot_common.telemetry.nats_propagation import traced_publish

log = logging.getLogger("imagebot.dispatcher.consumer")

ERROR_HEADER_MAX = 1000
_TRACE_HEADERS = frozenset({"traceparent", "tracestate"})


def header_safe(text: str, limit: int = ERROR_HEADER_MAX) -> str:
    """Redacted, one line, ASCII (NATS header values cannot hold CR/LF; non-ASCII is escaped), bounded."""
    one_line = " ".join(redactor.redact(text).split())
    return one_line.encode("ascii", "backslashreplace").decode()[:limit]


def dead_letter_headers(msg: Msg, reason: str, error: str) -> dict[str, str]:
    meta = msg.metadata
    original = {
        k: v
        for k, v in (msg.headers or {}).items()
        if isinstance(k, str) and not k.startswith("Nats-") and k.lower() not in _TRACE_HEADERS
    }
    return {
        **original,
        subjects.DLQ_ERROR_HEADER: header_safe(error),
        subjects.DLQ_REASON_HEADER: reason,
        subjects.DLQ_SOURCE_HEADER: "dispatcher",
        subjects.DLQ_SUBJECT_HEADER: msg.subject,
        subjects.DLQ_STREAM_HEADER: meta.stream,
        subjects.DLQ_STREAM_SEQ_HEADER: str(meta.sequence.stream),
        subjects.DLQ_DELIVERIES_HEADER: str(meta.num_delivered),
    }


async def publish_dead_letter(js: JetStreamContext, msg: Msg, reason: str, error: str) -> None:
    """Publish inside the current (process) span, so `traceparent` carries the original trace id. Retries until it is
    stored: terminating a message whose copy was not kept would lose it, and only this chat waits meanwhile."""
    headers = dead_letter_headers(msg, reason, error)
    seq = msg.metadata.sequence.stream
    msg_id = f"dispatcher:{msg.metadata.stream}:{seq}"
    delay = 0.5
    while True:
        try:
            await traced_publish(
                js,
                subjects.DLQ_DISPATCHER_POISON,
                subjects.DLQ_DISPATCHER_POISON,
                msg.data,
                msg_id=msg_id,
                headers=headers,
                stream=subjects.DEAD_LETTER_STREAM,
                timeout=5,
            )
            return
        except Exception as exc:
            log.error("cannot store dead letter of seq %d (%s); retrying in %.1fs", seq, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
