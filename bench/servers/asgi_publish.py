"""The gateway's hot path taken apart: uvicorn (httptools, uvloop) serving the yardstick's awaited publish through
either a bare ASGI callable (`--kind raw`) or a one-route Litestar app (`--kind litestar`).

Neither is a product; the difference between them and the gateway says where the gateway's time goes.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import nats
import uvicorn
import uvloop
from litestar import Litestar, Request, Response, get, post
from nats.js import JetStreamContext

from bench import updates
from imagebot_common.nats import subjects, topology
from imagebot_common.update_routing import update_chat_key

_JS: dict[str, JetStreamContext] = {}


async def publish(body: bytes) -> None:
    update = json.loads(body)
    await _JS["js"].publish(
        subjects.update_subject(update_chat_key(update)),
        body,
        headers={subjects.MSG_ID_HEADER: subjects.update_msg_id(updates.BOT_ID, update["update_id"])},
        stream=subjects.UPDATES_STREAM,
    )


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    if scope["path"] == updates.WEBHOOK_PATH:
        await publish(b"".join(chunks))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


@post(updates.WEBHOOK_PATH)
async def webhook(request: Request) -> Response[bytes]:
    await publish(await request.body())
    return Response(b"", status_code=200)


@get("/healthz")
async def healthz() -> str:
    return "ok"


async def serve(kind: str, port: int, nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    _JS["js"] = nc.jetstream()
    limits = topology.UpdatesStreamLimits(max_msgs=50_000_000, max_bytes=8 * 1024**3)
    await topology.ensure_stream(_JS["js"], topology.updates_stream(limits))
    app = raw_app if kind == "raw" else Litestar([webhook, healthz], debug=False, logging_config=None)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off", http="httptools"
    )
    await uvicorn.Server(config).serve()
    await nc.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=("raw", "litestar"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nats-url", required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.kind, args.port, args.nats_url))


if __name__ == "__main__":
    main()
