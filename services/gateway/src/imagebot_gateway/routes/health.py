"""Probes and diagnostics: /, /healthz, /readyz, /health, /diag/webhook, /diag/lock, /metrics."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from imagebot_common.redaction import mask_url, redactor
from imagebot_gateway.bot_api import TelegramApiError, TelegramUnreachable
from imagebot_gateway.state import GatewayState


def _gateway(request: Request) -> GatewayState:
    return request.app.state.gateway


@get(["/", "/healthz"], summary="Liveness: 503 once nats-py has closed the NATS client for good")
async def healthz(request: Request) -> Response[dict[str, Any]]:
    gateway = _gateway(request)
    alive = gateway.alive()
    body: dict[str, Any] = {
        "status": "ok" if alive else "failing",
        "mode": gateway.settings.bot_mode,
        "ready": alive and gateway.nc.is_connected and gateway.streams_ready.is_set(),
        "instance": gateway.settings.instance_id,
    }
    if not alive:
        body["nats_closed"] = gateway.nats_closed()
    return Response(body, status_code=200 if alive else 503)


@get("/readyz", summary="Readiness: NATS connected and streams exist")
async def readyz(request: Request) -> Response[dict[str, bool]]:
    ready = await _gateway(request).ready()
    return Response({"ready": ready}, status_code=200 if ready else 503)


@get("/health", summary="Figures of this gateway process")
async def health(request: Request) -> dict[str, Any]:
    gateway = _gateway(request)
    stats = gateway.stats
    lease = gateway.lease
    return {
        "status": "ok" if gateway.alive() else "failing",
        "uptime": round(stats.uptime, 1),
        "mode": gateway.settings.bot_mode,
        "webhook_mode": gateway.settings.bot_mode == "webhook",
        "lock_acquired": bool(lease and lease.held),
        "streams_ready": gateway.streams_ready.is_set(),
        "nats_connected": gateway.nc.is_connected,
        "nats_closed": gateway.nats_closed(),
        "instance": gateway.settings.instance_id,
        "queue": {
            "total_received": stats.total_received,
            "total_published": stats.total_published,
            "total_duplicates": stats.total_duplicates,
            "total_rejected": stats.total_rejected,
            "total_unavailable": stats.total_unavailable,
            "total_dead_lettered": stats.total_dead_lettered,
            "queue_depth": await gateway.queue_depth(),
            "queue_max": gateway.settings.update_queue_size,
            "drop_rate": stats.drop_rate,
        },
    }


@get("/diag/webhook", summary="Telegram's getWebhookInfo, secrets masked")
async def diag_webhook(request: Request) -> Response[dict[str, Any]]:
    gateway = _gateway(request)
    try:
        info = await gateway.bot.get_webhook_info()
    except (TelegramApiError, TelegramUnreachable) as exc:
        return Response({"error": redactor.redact(str(exc))}, status_code=502)
    info = dict(info)
    info["url"] = mask_url(info.get("url") or "")
    if info.get("last_error_message"):
        info["last_error_message"] = redactor.redact(str(info["last_error_message"]))
    return Response(info)


@get("/diag/lock", summary="The registrar/poller lease as this replica sees it")
async def diag_lock(request: Request) -> dict[str, Any]:
    gateway = _gateway(request)
    lease = gateway.lease
    snapshot = lease.snapshot() if lease else {"lock_acquired": False, "holder": None, "last_check": None}
    held = bool(snapshot["lock_acquired"])
    return {
        "active": True,
        # Every replica takes webhook deliveries; only the lease holder polls.
        "should_process": gateway.settings.bot_mode == "webhook" or held,
        **snapshot,
    }


@get("/metrics", summary="Prometheus metrics", media_type=CONTENT_TYPE_LATEST)
async def metrics() -> Response[bytes]:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


health_routes = [healthz, readyz, health, diag_webhook, diag_lock, metrics]
