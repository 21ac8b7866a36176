"""Baseline (d), the yardstick: a plain aiohttp handler that awaits one JetStream publish, then answers 200.

It publishes what the gateway publishes (subject `tg.in.upd.<chat>`, Nats-Msg-Id `<bot>:<update>`, expected
stream UPDATES, the same stream configuration), minus the gateway's framework, tracing and bookkeeping.
"""

from __future__ import annotations

import json

import nats
from aiohttp import web
from nats.errors import Error as NatsError

from bench import updates
from bench.servers.common import base_app, port_arg, secret_ok, serve
from imagebot_common.nats import subjects, topology
from imagebot_common.update_routing import update_chat_key


def build_with(nats_url: str):
    async def build() -> web.Application:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        limits = topology.UpdatesStreamLimits(max_msgs=50_000_000, max_bytes=8 * 1024**3)
        await topology.ensure_stream(js, topology.updates_stream(limits))

        async def webhook(request: web.Request) -> web.Response:
            if not secret_ok(request):
                return web.Response(status=401)
            body = await request.read()
            update = json.loads(body)
            msg_id = subjects.update_msg_id(updates.BOT_ID, update["update_id"])
            try:
                await js.publish(
                    subjects.update_subject(update_chat_key(update)),
                    body,
                    headers={subjects.MSG_ID_HEADER: msg_id},
                    stream=subjects.UPDATES_STREAM,
                )
            except (NatsError, TimeoutError):
                return web.Response(status=503)
            return web.Response(status=200)

        app = base_app()
        app.router.add_post(updates.WEBHOOK_PATH, webhook)

        async def close_nats(_: web.Application) -> None:
            await nc.drain()

        app.on_cleanup.append(close_nats)
        return app

    return build


def main() -> None:
    parser = port_arg(__doc__ or "")
    parser.add_argument("--nats-url", required=True)
    args = parser.parse_args()
    serve(build_with(args.nats_url), args.port)


if __name__ == "__main__":
    main()
