"""Errors that have a better answer than a retry: /start and /help without FSM storage, blocked chats.

Anything not handled here propagates, so the consumption engine retries the update and dead-letters it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram import Bot, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, User

from imagebot_dispatcher.conversation.fsm_storage import FsmStorageUnavailable
from imagebot_dispatcher.conversation.models import ModelChoice
from imagebot_dispatcher.conversation.screens import help_text, send_main_menu
from imagebot_dispatcher.conversation.settings import ConversationSettings
from imagebot_dispatcher.conversation.texts import texts_for

log = logging.getLogger("imagebot.dispatcher.errors")

router = Router(name=__name__)


def command_of(event: ErrorEvent) -> str | None:
    """`/start` for "/start", "/start ref_1" and "/start@imagebot"; None for anything but a command message."""
    message = event.update.message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    return message.text.split(maxsplit=1)[0].split("@")[0].lower()


def is_command(name: str) -> Callable[[ErrorEvent], bool]:
    return lambda event: command_of(event) == name


@router.error(ExceptionTypeFilter(FsmStorageUnavailable), is_command("/start"))
async def start_without_storage(event: ErrorEvent, bot: Bot, models: ModelChoice) -> None:
    """The FSM could not even be read: answer /start from nothing (degraded mode) instead of failing it."""
    message = event.update.message
    assert message is not None
    log.warning("FSM storage unavailable (%s); /start answered in degraded mode", event.exception)
    texts = texts_for(message.from_user.language_code if message.from_user else None)
    await send_main_menu(bot, message.chat.id, texts, models, degraded=True)


@router.error(ExceptionTypeFilter(FsmStorageUnavailable), is_command("/help"))
async def help_without_storage(event: ErrorEvent, bot: Bot, settings: ConversationSettings) -> None:
    message = event.update.message
    assert message is not None
    user: User | None = message.from_user
    await bot.send_message(
        chat_id=message.chat.id, text=help_text(texts_for(user.language_code if user else None), settings)
    )


@router.error(ExceptionTypeFilter(TelegramForbiddenError))
async def chat_blocked_the_bot(event: ErrorEvent) -> None:
    """The user blocked the bot (or left the group): nothing can be delivered, so retrying is pointless."""
    log.info(
        "update %s: Telegram refused the chat (%s); dropped", event.update.update_id, type(event.exception).__name__
    )
