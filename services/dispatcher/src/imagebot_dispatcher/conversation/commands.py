"""setMyCommands (start, help, cancel) in Russian by default and in English for `en` users, once at start-up.

Best effort in the background: start-up never waits for it and a failure is only logged (Telegram keeps the
commands of the previous run anyway).
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.types import BotCommand

from imagebot_dispatcher.conversation.texts import EN, RU

log = logging.getLogger("imagebot.dispatcher.commands")

REGISTRATION_DEADLINE_SECONDS = 120.0


async def register_commands(bot: Bot) -> bool:
    try:
        async with asyncio.timeout(REGISTRATION_DEADLINE_SECONDS):
            for texts, language in ((RU, None), (EN, EN.language)):
                commands = [
                    BotCommand(command=name, description=text) for name, text in texts.command_descriptions.items()
                ]
                await bot.set_my_commands(commands, language_code=language)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("bot commands not registered: %s", type(exc).__name__)
        return False
    log.info("bot commands registered")
    return True
