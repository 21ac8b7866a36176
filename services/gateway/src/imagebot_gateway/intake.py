"""The one path every update takes into JetStream, from the webhook and from polling alike.

An update counts as accepted only when JetStream has stored it (PubAck). The dedup id
`<bot_id>:<update_id>` makes Telegram's retries and our own retries store it once.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError

from imagebot_common.nats import subjects
from imagebot_common.nats.acked_publish import AckedPublisher
from imagebot_common.telemetry.nats_propagation import traced_publish
from imagebot_common.update_routing import update_chat_key
from imagebot_gateway.refusal_log import RefusalLog
from imagebot_gateway.stats import IntakeStats

log = logging.getLogger("imagebot.gateway.intake")

HEADER_ROOM = 4096  # Nats-Msg-Id, traceparent, Nats-Expected-Stream and the protocol line
_STREAM_FULL_CODES = {10077, 10047}  # maximum messages / bytes exceeded (discard=new)
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class Outcome(enum.Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    UNAVAILABLE = "unavailable"  # NATS down or slow: answer 503, Telegram retries
    FULL = "full"  # the stream is at UPDATE_QUEUE_SIZE: answer 503, Telegram retries later

    @property
    def acknowledged(self) -> bool:
        return self in (Outcome.STORED, Outcome.DUPLICATE, Outcome.DEAD_LETTERED)


def parse_update(body: bytes) -> dict[str, Any] | None:
    """The update as a dict if it is a JSON object with an integer update_id, else None."""
    try:
        update = _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(update, dict):
        return None
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    return update


class UpdateIntake:
    def __init__(self, nc: Client, js: JetStreamContext, *, bot_id: int, stats: IntakeStats, timeout: float):
        self._nc, self._js, self._bot_id, self._stats, self._timeout = nc, js, bot_id, stats, timeout
        self._publisher = AckedPublisher(nc)  # the hot path; dead letters go through nats-py's js.publish
        self._refusals = RefusalLog(log)

    async def accept_raw(self, body: bytes) -> Outcome:
        """A webhook body: published as received, or parked in dead letters when it is not an update."""
        update = parse_update(body)
        if update is None:
            return await self._dead_letter(body, "not a JSON object with an integer update_id")
        return await self._publish(update, body)

    async def accept_update(self, update: dict[str, Any]) -> Outcome:
        """A polled update (already decoded by the poll): re-encoded once, published like a webhook body."""
        return await self._publish(update, _encode(update))

    def fits(self, body: bytes) -> bool:
        """A message over the server's max_payload is refused by nats-server with an error after which
        nats-py closes the connection for good; such a body is answered 413 instead of ever being sent."""
        return len(body) + HEADER_ROOM <= self._nc.max_payload

    async def _publish(self, update: dict[str, Any], body: bytes) -> Outcome:
        if not self._nc.is_connected:
            # nats-py would buffer the publish while reconnecting; Telegram is better served by a fast 503.
            self._stats.unavailable()
            return Outcome.UNAVAILABLE
        chat_key = update_chat_key(update)
        msg_id = subjects.update_msg_id(self._bot_id, update["update_id"])
        try:
            ack = await traced_publish(
                self._publisher,
                subjects.update_subject(chat_key),
                subjects.UPDATE_SUBJECT_TEMPLATE,
                body,
                msg_id=msg_id,
                stream=subjects.UPDATES_STREAM,
                timeout=self._timeout,
            )
        except APIError as exc:
            full = exc.err_code in _STREAM_FULL_CODES
            self._refusals.refused(f"update {msg_id}", str(exc.description or exc))
            self._stats.unavailable()
            return Outcome.FULL if full else Outcome.UNAVAILABLE
        except (NatsError, TimeoutError) as exc:
            self._refusals.refused(f"update {msg_id}", type(exc).__name__)
            self._stats.unavailable()
            return Outcome.UNAVAILABLE
        self._stats.published(duplicate=bool(ack.duplicate))
        return Outcome.DUPLICATE if ack.duplicate else Outcome.STORED

    async def _dead_letter(self, body: bytes, reason: str) -> Outcome:
        if not self._nc.is_connected:
            self._stats.unavailable()
            return Outcome.UNAVAILABLE
        headers = {subjects.DLQ_ERROR_HEADER: reason, subjects.DLQ_SOURCE_HEADER: "gateway/webhook"}
        try:
            await self._js.publish(
                subjects.DLQ_GATEWAY_UNPARSABLE,
                body,
                headers=headers,
                stream=subjects.DEAD_LETTER_STREAM,
                timeout=self._timeout,
            )
        except (APIError, NatsError, TimeoutError) as exc:
            log.warning("unparsable webhook body not parked: %s", type(exc).__name__)
            self._stats.unavailable()
            return Outcome.UNAVAILABLE
        log.warning("parked an unparsable webhook body (%d bytes) in %s", len(body), subjects.DEAD_LETTER_STREAM)
        self._stats.dead_lettered()
        return Outcome.DEAD_LETTERED
