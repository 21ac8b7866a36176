"""The webhook's entry in the gateway's OpenAPI document.

The webhook is an ASGI route (see webhook.py: it bypasses Litestar's request handling for speed), and Litestar
leaves ASGI routes out of the schema it generates; this describes it by hand, so the document served at
/schema/openapi.json covers every route a caller can reach.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    RequestBody,
    Schema,
)

_JSON_DETAIL = {"application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT))}


def _answer(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(description=description, content=_JSON_DETAIL)


def webhook_path_item(max_body_bytes: int) -> PathItem:
    update = Schema(
        type=OpenAPIType.OBJECT,
        required=["update_id"],
        properties={"update_id": Schema(type=OpenAPIType.INTEGER)},
        description="A Telegram Update (https://core.telegram.org/bots/api#update)",
    )
    return PathItem(
        post=Operation(
            operation_id="TelegramWebhook",
            summary="Receive one Telegram update",
            description=(
                "Answered 200 only after JetStream has stored the update (or recognised it as a repeat); a body "
                "that is not an update is parked in DEAD_LETTERS and also answered 200, so Telegram stops "
                "retrying it."
            ),
            parameters=[
                Parameter(
                    name="X-Telegram-Bot-Api-Secret-Token",
                    param_in="header",  # type: ignore[arg-type]
                    required=True,
                    schema=Schema(type=OpenAPIType.STRING),
                    description="The secret given to setWebhook (WEBHOOK_SECRET_TOKEN, or one derived from the token)",
                )
            ],
            request_body=RequestBody(content={"application/json": OpenAPIMediaType(schema=update)}, required=True),
            responses={
                "200": OpenAPIResponse(description="stored (or a repeat of a stored update)"),
                "401": _answer("missing or wrong X-Telegram-Bot-Api-Secret-Token"),
                "405": _answer("a method other than POST"),
                "413": _answer(f"body over {max_body_bytes} bytes, or over the NATS server's max_payload"),
                "503": _answer("not stored (update queue full or NATS unavailable); comes with Retry-After"),
            },
        )
    )


def document_webhook(app: Litestar, path: str, max_body_bytes: int) -> None:
    app.openapi_schema.paths = {**(app.openapi_schema.paths or {}), path: webhook_path_item(max_body_bytes)}
