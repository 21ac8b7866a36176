"""Helpers for the consumption engine's tests: the updates stream, publishing like the gateway, engine replicas
in this process (each with its own NATS connection), and a scripted conversation on the other side."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import nats
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck

from imagebot_common.nats import subjects, topology
from imagebot_dispatcher.consumer.engine import ConsumptionEngine
from imagebot_dispatcher.consumer.options import EngineOptions
from tests.support.conversation_double import ScriptedConversation

BOT_ID = "123456"
TOKEN = f"{BOT_ID}:AAHfakeTOKENfakeTOKENfakeTOKEN12345"  # shaped like a real one, so redaction applies

# Short timings so takeovers and redeliveries happen within a test's patience.
FAST = EngineOptions(bot_id=BOT_ID, ack_wait=3.0, pin_timeout=2.0, retry_backoff=0.01, drain_timeout=5.0)


def options(**changes: object) -> EngineOptions:
    return replace(FAST, **changes)  # type: ignore[arg-type]


async def create_updates_stream(js: JetStreamContext, partitions: int = 16, **limits: object) -> None:
    config = topology.updates_stream(topology.UpdatesStreamLimits(partitions=partitions, **limits))  # type: ignore[arg-type]
    await topology.ensure_stream(js, config)


def update_id_of(chat: int, message_id: int) -> int:
    return abs(chat) * 10_000 + message_id


def update_body(chat: int, message_id: int, text: str = "", *, update_id: int | None = None, date: int = 0) -> bytes:
    """`date` 0 (1970) by default: too old to prove a first copy, so the engine always asks handled_updates."""
    update = {
        "update_id": update_id if update_id is not None else update_id_of(chat, message_id),
        "message": {"message_id": message_id, "chat": {"id": chat, "type": "private"}, "date": date, "text": text},
    }
    return json.dumps(update).encode()


async def publish_update(
    js: JetStreamContext,
    chat: int,
    message_id: int,
    text: str = "",
    *,
    update_id: int | None = None,
    msg_id: str | None = None,
    headers: dict[str, str] | None = None,
    date: int = 0,
) -> PubAck:
    """What the gateway does: the chat's subject, Nats-Msg-Id `<bot>:<update_id>`, into the UPDATES stream."""
    uid = update_id if update_id is not None else update_id_of(chat, message_id)
    all_headers = {subjects.MSG_ID_HEADER: msg_id or subjects.update_msg_id(int(BOT_ID), uid), **(headers or {})}
    return await js.publish(
        subjects.update_subject(chat),
        update_body(chat, message_id, text, update_id=uid, date=date),
        headers=all_headers,
        stream=subjects.UPDATES_STREAM,
    )


async def publish_chats(js: JetStreamContext, chats: list[int], per_chat: int, text: str = "") -> None:
    """Interleaved across chats, each chat's updates in order (as Telegram and the gateway guarantee)."""
    for message_id in range(1, per_chat + 1):
        await asyncio.gather(*(publish_update(js, chat, message_id, text) for chat in chats))


class Replicas:
    """Engine instances in this process, each on its own connection (as separate replicas would be)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._running: list[tuple[ConsumptionEngine, Client]] = []

    async def start(
        self, conversation: ScriptedConversation, opts: EngineOptions = FAST, *, wait: bool = True
    ) -> ConsumptionEngine:
        nc = await nats.connect(self._url, name=f"replica-{len(self._running)}", reconnect_time_wait=0.3)
        engine = ConsumptionEngine(nc, nc.jetstream(), conversation, opts)
        self._running.append((engine, nc))
        await engine.start()
        if wait:
            await engine.wait_running(timeout=10)
        return engine

    async def stop(self, engine: ConsumptionEngine) -> None:
        for running, nc in list(self._running):
            if running is engine:
                await engine.stop()
                await nc.close()
                self._running.remove((running, nc))

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(engine) for engine, _ in list(self._running)))


@pytest_asyncio.fixture(name="replicas")
async def replicas_fixture(nats_url: str, js: JetStreamContext) -> AsyncIterator[Replicas]:
    """Depends on `js` so the streams are wiped after the engines stopped."""
    group = Replicas(nats_url)
    try:
        yield group
    finally:
        await group.stop_all()


def total_owned(*engines: ConsumptionEngine) -> list[int]:
    return sorted(p for engine in engines for p in engine.owned_partitions())
