"""The dispatcher's composition root, minus the choice of conversation (so a test replica can pass its own).

settings → tracing → secrets registered → NATS → conversation → consumption engine → health server; SIGTERM or
SIGINT stops pulling, drains running handlers (bounded), closes the conversation and NATS, and returns 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from nats.aio.client import Client
from nats.js import JetStreamContext

from imagebot_common.nats.connection import close, connect
from imagebot_common.redaction import mask_url, redactor
from imagebot_common.telemetry.setup import describe_export, setup_tracing, shutdown_tracing
from imagebot_dispatcher.consumer.engine import ConsumptionEngine
from imagebot_dispatcher.consumer.options import CONSUMER_PREFIX, EngineOptions
from imagebot_dispatcher.consumer.port import ConversationPort
from imagebot_dispatcher.health import build_health_server
from imagebot_dispatcher.settings import DispatcherSettings

log = logging.getLogger("imagebot.dispatcher")

ConversationFactory = Callable[[DispatcherSettings, Client, JetStreamContext], ConversationPort]
CLOSE_TIMEOUT = 5.0


async def run_dispatcher(settings: DispatcherSettings, build_conversation: ConversationFactory) -> int:
    """Runs until SIGTERM/SIGINT; the exit code."""
    provider = setup_tracing("dispatcher", settings.instance_id)
    redactor.register(settings.telegram_bot_token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    options = EngineOptions.from_settings(settings)
    nc = Client()  # connected below, after the health server is up (NATS may still be starting)
    js = nc.jetstream()
    conversation = build_conversation(settings, nc, js)
    engine = ConsumptionEngine(nc, js, conversation, options)
    health = build_health_server(settings, engine, nc)
    await health.start()
    log.info(
        "dispatcher %s: NATS %s, Telegram API %s, stream %s (consumers %sNN, partitions from its transform), "
        "%d handlers in flight at most, %d unacked per partition, health on http://%s:%d, tracing %s",
        settings.instance_id,
        ", ".join(mask_url(url) for url in settings.nats_servers()),
        mask_url(settings.telegram_api_url),
        options.stream,
        CONSUMER_PREFIX,
        options.workers,
        options.max_ack_pending,
        settings.health_host,
        settings.health_port,
        describe_export(),
    )
    exit_code = 0
    try:
        connecting = connect(nc, settings.nats_servers(), f"dispatcher {settings.instance_id}", on_lost=stop.set)
        if await _until_stopped(connecting, stop):
            await _serve(conversation, engine, stop)
        log.info("stop signal received; draining (at most %.0fs)", options.drain_timeout)
    except Exception:
        log.exception("dispatcher failed")
        exit_code = 1
    finally:
        await engine.stop()
        await _bounded(conversation.close(), "conversation close")
        await close(nc)
        await health.stop()
        shutdown_tracing(provider)
        log.info("dispatcher stopped")
    return exit_code


async def _serve(conversation: ConversationPort, engine: ConsumptionEngine, stop: asyncio.Event) -> None:
    if not await _until_stopped(conversation.start(), stop):
        return
    await engine.start()
    if await _until_stopped(engine.wait_running(timeout=None), stop):
        log.info("consuming %d partitions of %s as a pinned-client group", engine.partitions, engine.options.stream)
    await stop.wait()


async def _until_stopped(work: object, stop: asyncio.Event) -> bool:
    """Run `work` unless the stop signal comes first; True if it finished."""
    task = asyncio.ensure_future(work)  # type: ignore[arg-type]
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()
    return True


async def _bounded(work: object, what: str) -> None:
    try:
        await asyncio.wait_for(work, CLOSE_TIMEOUT)  # type: ignore[arg-type]
    except Exception as exc:
        log.warning("%s failed: %s", what, exc)
