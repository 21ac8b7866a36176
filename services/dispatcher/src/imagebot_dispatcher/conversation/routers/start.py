"""/start, /help, /cancel and the menu buttons that lead back to them. /start never depends on NATS KV."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from imagebot_dispatcher.conversation import keyboards
from imagebot_dispatcher.conversation.callbacks import Menu, MenuAction
from imagebot_dispatcher.conversation.fsm_storage import FsmStorageUnavailable
from imagebot_dispatcher.conversation.models import ModelChoice
from imagebot_dispatcher.conversation.screens import answer_quietly, chat_id_of, help_text, send_main_menu
from imagebot_dispatcher.conversation.settings import ConversationSettings
from imagebot_dispatcher.conversation.texts import Texts

log = logging.getLogger("imagebot.dispatcher.start")

router = Router(name=__name__)


async def _forget_flow(state: FSMContext) -> bool:
    """Clear the conversation; False when the FSM storage is down (the caller carries on, degraded)."""
    try:
        await state.clear()
    except FsmStorageUnavailable as exc:
        log.warning("FSM storage unavailable (%s); answering without it", exc)
        return False
    return True


@router.message(CommandStart())
async def start(message: Message, bot: Bot, state: FSMContext, texts: Texts, models: ModelChoice) -> None:
    cleared = await _forget_flow(state)
    await send_main_menu(bot, message.chat.id, texts, models, degraded=not cleared)


@router.callback_query(Menu.filter(F.action == MenuAction.MAIN))
async def main_menu_button(
    callback: CallbackQuery, bot: Bot, state: FSMContext, texts: Texts, models: ModelChoice
) -> None:
    await answer_quietly(callback)
    cleared = await _forget_flow(state)
    await send_main_menu(bot, chat_id_of(callback), texts, models, degraded=not cleared)


@router.message(Command("help"))
async def help_command(message: Message, texts: Texts, settings: ConversationSettings) -> None:
    await message.answer(help_text(texts, settings), reply_markup=keyboards.back_to_menu(texts))


@router.callback_query(Menu.filter(F.action == MenuAction.HELP))
async def help_button(callback: CallbackQuery, bot: Bot, texts: Texts, settings: ConversationSettings) -> None:
    await answer_quietly(callback)
    await bot.send_message(
        chat_id=chat_id_of(callback), text=help_text(texts, settings), reply_markup=keyboards.back_to_menu(texts)
    )


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext, raw_state: str | None, texts: Texts, models: ModelChoice) -> None:
    await state.clear()
    text = texts.cancelled if raw_state is not None else texts.nothing_to_cancel
    await message.answer(text, reply_markup=keyboards.main_menu(texts, show_models=models.has_choice))
