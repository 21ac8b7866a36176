"""The model catalog: pick a Kie.ai text-to-image model, then describe the picture (hidden with SINGLE_MODEL_ONLY)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery

from imagebot_dispatcher.conversation import keyboards
from imagebot_dispatcher.conversation.callbacks import Menu, MenuAction, PickModel
from imagebot_dispatcher.conversation.models import ModelChoice
from imagebot_dispatcher.conversation.screens import answer_quietly, ask_for_prompt, chat_id_of
from imagebot_dispatcher.conversation.texts import Texts

router = Router(name=__name__)


@router.callback_query(Menu.filter(F.action == MenuAction.MODELS))
async def list_models(callback: CallbackQuery, bot: Bot, texts: Texts, models: ModelChoice) -> None:
    if not models.has_choice:
        await answer_quietly(callback, texts.stale_button, alert=True)
        return
    await answer_quietly(callback)
    await bot.send_message(
        chat_id=chat_id_of(callback), text=texts.models_title, reply_markup=keyboards.models_menu(texts, models.offered)
    )


@router.callback_query(PickModel.filter())
async def pick_model(
    callback: CallbackQuery, callback_data: PickModel, bot: Bot, state: FSMContext, texts: Texts, models: ModelChoice
) -> None:
    model = models.find(callback_data.model)
    if model is None:  # no longer offered (SINGLE_MODEL_ONLY switched on, or removed from the catalog)
        await answer_quietly(callback, texts.stale_button, alert=True)
        return
    await answer_quietly(callback)
    await ask_for_prompt(bot, chat_id_of(callback), state, texts, model)
