"""Last router: nothing else matched. Text or files outside any flow get a hint and the menu ("zero silence");
a button nothing recognises (stale, from an old menu or an older bot version) gets "this button is outdated"."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message

from imagebot_dispatcher.conversation import keyboards
from imagebot_dispatcher.conversation.models import ModelChoice
from imagebot_dispatcher.conversation.screens import answer_quietly
from imagebot_dispatcher.conversation.texts import Texts

router = Router(name=__name__)


@router.message(F.text)
async def text_outside_flow(message: Message, texts: Texts, models: ModelChoice) -> None:
    await message.answer(texts.outside_flow, reply_markup=keyboards.main_menu(texts, show_models=models.has_choice))


@router.message(F.chat.type == "private")
async def file_outside_flow(message: Message, texts: Texts, models: ModelChoice) -> None:
    """Photos, documents, voice, stickers… in a private chat (in groups the bot stays quiet)."""
    await message.answer(texts.file_received, reply_markup=keyboards.main_menu(texts, show_models=models.has_choice))


@router.callback_query()
async def stale_button(callback: CallbackQuery, bot: Bot, texts: Texts) -> None:
    await answer_quietly(callback, texts.stale_button, alert=True)
