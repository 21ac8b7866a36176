"""Composition root: `python -m imagebot_gateway`. Builds every client once and serves until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator

import aiohttp
import uvicorn
from nats.aio.client import Client
from pydantic import ValidationError

from imagebot_common.event_loop import run_service
from imagebot_common.logs import setup_logging
from imagebot_common.nats.connection import close, connect
from imagebot_common.redaction import mask_url, redactor
from imagebot_common.settings_errors import explain_settings_error
from imagebot_common.telemetry.setup import describe_export, setup_tracing, shutdown_tracing
from imagebot_gateway.app import create_app
from imagebot_gateway.bot_api import BotApi
from imagebot_gateway.http_protocol import HeadBoundedHttpToolsProtocol
from imagebot_gateway.intake import UpdateIntake
from imagebot_gateway.lease import Lease
from imagebot_gateway.polling import Poller
from imagebot_gateway.provisioning import provision
from imagebot_gateway.registration import WebhookRegistrar
from imagebot_gateway.settings import GatewaySettings
from imagebot_gateway.state import GatewayState
from imagebot_gateway.stats import IntakeStats
from imagebot_gateway.webhook_secret import effective_webhook_secret

log = logging.getLogger("imagebot.gateway")


class DrainingServer(uvicorn.Server):
    """uvicorn's graceful stop on SIGTERM/SIGINT, without re-raising the signal afterwards (which would
    kill the process before it releases its lease and drains NATS, and make the exit code 143)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def startup_line(settings: GatewaySettings) -> str:
    where = f"http://{settings.host}:{settings.port}"
    intake = (
        f"webhook {mask_url(settings.webhook_url)} -> {mask_url(where + settings.webhook_path)}"
        if settings.bot_mode == "webhook"
        else "polling getUpdates (leader only)"
    )
    return (
        f"gateway {settings.instance_id}: mode={settings.bot_mode}; {intake}; health {where}/healthz; "
        f"Kie callbacks {where}/{settings.kie_callback_path}; Telegram API {mask_url(settings.telegram_api_url)}; "
        f"NATS {', '.join(mask_url(s) for s in settings.nats_servers())}; stream UPDATES max "
        f"{settings.update_queue_size} msgs, {settings.dispatch_partitions} partitions; traces {describe_export()}"
    )


async def run_background(state: GatewayState, settings: GatewaySettings, on_nats_lost: Callable[[], None]) -> None:
    """Provision the topology, then (leader only) register the webhook or poll."""
    await connect(state.nc, settings.nats_servers(), name=f"gateway-{settings.instance_id}", on_lost=on_nats_lost)
    leases = await provision(state.js, settings)
    state.streams_ready.set()
    role = "webhook-registrar" if settings.bot_mode == "webhook" else "poller"
    lease = Lease(leases, f"{role}.{settings.bot_id}", settings.instance_id, settings.lease_ttl)
    state.lease = lease
    if settings.bot_mode == "webhook":
        worker = WebhookRegistrar(state.bot, settings, state.webhook_secret, lease).run()
    else:
        worker = Poller(state.bot, state.intake, settings, lease).run()
    async with asyncio.TaskGroup() as group:
        group.create_task(lease.run())
        group.create_task(worker)


async def serve(settings: GatewaySettings) -> int:
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        log.error(
            "cannot listen on %s:%d: %s (is another gateway running? set PORT)", settings.host, settings.port, exc
        )
        return 1
    secret = effective_webhook_secret(settings.webhook_secret_token, settings.telegram_bot_token)
    redactor.register(secret)
    nc = Client()  # connected in the background: health answers while NATS is down
    js = nc.jetstream()
    stats = IntakeStats()
    http = aiohttp.ClientSession()
    state = GatewayState(
        settings=settings,
        nc=nc,
        js=js,
        bot=BotApi(http, settings.telegram_api_url, settings.telegram_bot_token),
        intake=UpdateIntake(nc, js, bot_id=settings.bot_id, stats=stats, timeout=settings.publish_timeout),
        stats=stats,
        webhook_secret=secret,
    )
    config = uvicorn.Config(
        create_app(state),
        log_config=None,
        access_log=False,
        lifespan="off",
        http=HeadBoundedHttpToolsProtocol,  # httptools, with the request head bounded (see http_protocol.py)
        proxy_headers=False,  # nothing here uses the client address; parsing X-Forwarded-* costs ~3% per update
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
    )
    server = DrainingServer(config)
    log.info(startup_line(settings))
    if not settings.webhook_secret_token:
        log.info("WEBHOOK_SECRET_TOKEN unset: using a secret derived from the bot token")
    if not settings.kie_callback_token and not settings.kie_webhook_hmac_key:
        log.warning("KIE_CALLBACK_TOKEN and KIE_WEBHOOK_HMAC_KEY unset: Kie callbacks are not authenticated")

    def stop_serving() -> None:  # the NATS client is closed for good: stop like SIGTERM, to be started again
        server.should_exit = True

    background = asyncio.create_task(run_background(state, settings, stop_serving))
    try:
        # uvicorn stops taking requests on SIGTERM/SIGINT and waits for in-flight ones (their publishes).
        await server.serve(sockets=[sock])
    finally:
        background.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await background
        if state.lease is not None:
            await state.lease.release()
        await http.close()
        await close(nc)
    log.info("gateway stopped")
    return 0


def main() -> None:
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        print(explain_settings_error("gateway", exc), file=sys.stderr)
        sys.exit(2)
    setup_logging(settings.log_level, settings.log_format)
    redactor.register(settings.telegram_bot_token, settings.kie_callback_token, settings.kie_webhook_hmac_key)
    provider = setup_tracing("gateway", settings.instance_id)
    try:
        code = run_service(serve(settings))
    finally:
        shutdown_tracing(provider)
    sys.exit(code)


if __name__ == "__main__":
    main()
