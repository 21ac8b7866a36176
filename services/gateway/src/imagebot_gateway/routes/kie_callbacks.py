"""POST /{KIE_CALLBACK_PATH}: Kie.ai task callbacks, authenticated, forwarded to imagegen over JetStream.

The body is only a hint (imagegen re-reads recordInfo), so the gateway forwards the task id and state.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from nats.errors import Error as NatsError

from imagebot_common.messages.v1 import KieCallbackV1
from imagebot_common.nats import subjects
from imagebot_common.telemetry.nats_propagation import traced_publish
from imagebot_gateway.kie_auth import signature_problem, token_matches
from imagebot_gateway.routes.tracing import ServerSpan, parent_from_traceparent, record_status
from imagebot_gateway.state import GatewayState
from imagebot_gateway.stats import KIE_CALLBACKS

log = logging.getLogger("imagebot.gateway.kie")


def _task_id(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    for candidate in (data.get("taskId"), data.get("task_id"), body.get("taskId")):
        if isinstance(candidate, str) and 0 < len(candidate) <= 128:
            return candidate
    return None


def _refuse(status: int, reason: str) -> Response[dict[str, Any]]:
    KIE_CALLBACKS.labels("refused").inc()
    return Response({"code": status, "msg": reason}, status_code=status)


def kie_callback_route(path: str) -> HTTPRouteHandler:
    @post(f"/{path}", name="kie-callback", summary="Kie.ai task callback")
    async def receive_kie_callback(request: Request) -> Response[dict[str, Any]]:
        parent = parent_from_traceparent(request.query_params.get("traceparent"))
        with ServerSpan(f"/{path}", parent) as span:
            response = await _forward(request, request.app.state.gateway)
            record_status(span, response.status_code)
            return response

    return receive_kie_callback


async def _forward(request: Request, gateway: GatewayState) -> Response[dict[str, Any]]:
    settings = gateway.settings
    if settings.kie_callback_token and not token_matches(
        settings.kie_callback_token, request.query_params.get("token")
    ):
        return _refuse(401, "missing or wrong callback token")
    try:
        body = msgspec.json.decode(await request.body())
    except (msgspec.DecodeError, RecursionError):
        return _refuse(400, "body is not JSON")
    task_id = _task_id(body)
    if task_id is None:
        return _refuse(400, "no data.taskId in the callback")
    if settings.kie_webhook_hmac_key:
        problem = signature_problem(
            settings.kie_webhook_hmac_key,
            task_id,
            request.headers.get("x-webhook-timestamp"),
            request.headers.get("x-webhook-signature"),
            settings.kie_callback_max_skew,
        )
        if problem:
            return _refuse(401, problem)
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    state = data.get("state") if isinstance(data.get("state"), str) else None
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = KieCallbackV1(task_id=task_id, state=state, code=code)
    try:
        await traced_publish(
            gateway.js,
            subjects.KIE_CALLBACKS_SUBJECT,
            subjects.KIE_CALLBACKS_SUBJECT,
            message.to_bytes(),
            msg_id=f"kie:{task_id}:{state or code}",
            stream=subjects.KIE_CALLBACKS_STREAM,
            timeout=settings.publish_timeout,
        )
    except (NatsError, TimeoutError) as exc:
        log.warning("Kie callback for task %s not stored: %s", task_id, type(exc).__name__)
        KIE_CALLBACKS.labels("unavailable").inc()
        return Response(
            {"code": 503, "msg": "try again"},
            status_code=503,
            headers={"Retry-After": str(settings.retry_after_seconds)},
        )
    KIE_CALLBACKS.labels("forwarded").inc()
    return Response({"code": 200, "msg": "success"}, status_code=200)
