"""The e2e baseline: one aiogram process answering the webhook itself (`handle_in_background=True`), with the
dispatcher's own /start handler, texts middleware and Bot (same session policy and limits), FSM in memory.

Only the architecture differs from the stack: no gateway, no JetStream, no NATS KV. It runs the way our services
run (uvloop, start-up heap frozen out of the collector, through bench.servers.common.serve): without the freeze
its full collections took ~200 ms in the middle of a 300/s run, which flattered every ratio against it.
"""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bench import updates
from bench.servers.common import base_app, port_arg, serve
from imagebot_dispatcher.conversation.middlewares import TextsMiddleware
from imagebot_dispatcher.conversation.models import ModelChoice, load_catalog_or_none
from imagebot_dispatcher.conversation.routers import include_conversation_routers
from imagebot_dispatcher.conversation.settings import ConversationSettings
from imagebot_dispatcher.conversation.telegram_session import create_bot


def build_with(settings: ConversationSettings):
    async def build() -> web.Application:
        bot = create_bot(settings)
        models = ModelChoice(load_catalog_or_none(settings.catalog_path), single_model_only=settings.single_model_only)
        dp = Dispatcher(storage=MemoryStorage(), settings=settings, models=models)
        dp.update.outer_middleware(TextsMiddleware())
        include_conversation_routers(dp)
        app = base_app()
        SimpleRequestHandler(dp, bot, handle_in_background=True, secret_token=updates.WEBHOOK_SECRET).register(
            app, path=updates.WEBHOOK_PATH
        )

        async def close_bot(_: web.Application) -> None:
            await bot.session.close()

        app.on_cleanup.append(close_bot)
        return app

    return build


def main() -> None:
    parser = port_arg(__doc__ or "")
    parser.add_argument("--telegram-api-url", required=True)
    parser.add_argument("--global-rate", type=float, required=True, help="TELEGRAM_GLOBAL_RATE of the stack's run")
    args = parser.parse_args()
    settings = ConversationSettings(
        telegram_bot_token=updates.BOT_TOKEN,
        telegram_api_url=args.telegram_api_url,
        telegram_global_rate=args.global_rate,
    )
    serve(build_with(settings), args.port)


if __name__ == "__main__":
    main()
