"""Control API, reading side: transcripts, recorded calls, answers, actions, files, delivery stats."""

from __future__ import annotations

from aiohttp import web

from .control_support import bot_of, fail, int_arg, services_of


def _since(request: web.Request) -> int:
    try:
        return int(request.query.get("since", "0"))
    except ValueError:
        raise fail(400, "since must be an integer (a request seq)") from None


async def get_bots(request: web.Request) -> web.Response:
    bots = services_of(request).registry.bots.values()
    return web.json_response(
        [
            {"token": b.token, "me": b.me(), "webhook_url": b.webhook.url if b.webhook else "", "chats": list(b.chats)}
            for b in bots
        ]
    )


async def get_chats(request: web.Request) -> web.Response:
    chats = bot_of(request).chats.values()
    return web.json_response([{**chat.object(), "message_count": len(chat.messages)} for chat in chats])


async def get_transcript(request: web.Request) -> web.Response:
    chat = bot_of(request).chats.get(int_arg(request, "chat_id"))
    return web.json_response(chat.transcript() if chat else [])


async def get_requests(request: web.Request) -> web.Response:
    bot, since = bot_of(request), _since(request)
    method = request.query.get("method", "").lower()
    return web.json_response(
        [r for r in bot.requests if r["seq"] > since and (not method or r["method"].lower() == method)]
    )


async def get_callback_answers(request: web.Request) -> web.Response:
    return web.json_response(bot_of(request).callback_answers)


async def get_chat_actions(request: web.Request) -> web.Response:
    return web.json_response(bot_of(request).chat_actions)


async def get_file(request: web.Request) -> web.Response:
    stored = bot_of(request).files.files.get(request.match_info["file_id"])
    if stored is None:
        raise fail(404, "no such file_id for this bot")
    return web.Response(body=stored.data, content_type=stored.content_type)


async def get_pending(request: web.Request) -> web.Response:
    items = bot_of(request).updates.pending()
    return web.json_response(
        [
            {
                "update_id": i.update_id,
                "kind": i.kind,
                "queue_key": i.key,
                "attempts": i.attempts,
                "in_flight": i.in_flight,
                "update": i.payload,
            }
            for i in items
        ]
    )


async def get_webhook(request: web.Request) -> web.Response:
    bot = bot_of(request)
    stats, items = bot.stats, bot.updates.pending()
    return web.json_response(
        {
            "url": bot.webhook.url if bot.webhook else "",
            "max_connections": bot.webhook.max_connections if bot.webhook else None,
            "pending": len(items),
            "in_flight": sum(1 for i in items if i.in_flight),
            "delivered_count": len(stats.delivered),
            "failed_attempts": stats.failed_attempts,
            "last_error_date": bot.last_error_date,
            "last_error_message": bot.last_error_message,
            "last_errors": list(stats.errors)[-20:],
            "dropped": stats.dropped,
            "delivered": stats.delivered,
        }
    )


def add_routes(app: web.Application) -> None:
    bot = "/control/bots/{token}"
    app.router.add_get("/control/bots", get_bots)
    app.router.add_get(f"{bot}/chats", get_chats)
    app.router.add_get(f"{bot}/chats/{{chat_id}}/messages", get_transcript)
    app.router.add_get(f"{bot}/requests", get_requests)
    app.router.add_get(f"{bot}/callback_answers", get_callback_answers)
    app.router.add_get(f"{bot}/chat_actions", get_chat_actions)
    app.router.add_get(f"{bot}/files/{{file_id}}", get_file)
    app.router.add_get(f"{bot}/updates", get_pending)
    app.router.add_get(f"{bot}/webhook", get_webhook)
