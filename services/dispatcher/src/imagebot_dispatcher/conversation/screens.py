"""Screens shown from more than one router: the main menu, help, the prompt question and the format choice."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from imagebot_common.catalog import CatalogModel
from imagebot_dispatcher.conversation import keyboards, metrics
from imagebot_dispatcher.conversation.models import ModelChoice, prompt_limit_of, ratios_of
from imagebot_dispatcher.conversation.quotas import QuotaDecision
from imagebot_dispatcher.conversation.settings import ConversationSettings
from imagebot_dispatcher.conversation.states import PictureFlow
from imagebot_dispatcher.conversation.texts import Texts

log = logging.getLogger("imagebot.dispatcher.screens")


async def answer_quietly(callback: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Stop the button's spinner first thing; a late or repeated answer (a retried update) is not an error."""
    try:
        await callback.answer(text=text, show_alert=alert)
    except TelegramBadRequest as exc:
        log.info("callback %s not answered: %s", callback.id, exc.message)


def chat_id_of(callback: CallbackQuery) -> int:
    return callback.message.chat.id if callback.message is not None else callback.from_user.id


async def send_main_menu(
    bot: Bot, chat_id: int, texts: Texts, models: ModelChoice | None, *, degraded: bool = False
) -> None:
    """The menu must always go out: if the full one cannot be built, the fallback one is sent."""
    markup: InlineKeyboardMarkup | None = None
    if not degraded:
        try:
            if models is None:
                raise LookupError("no model catalog")
            markup = keyboards.main_menu(texts, show_models=models.has_choice)
        except Exception:
            log.exception("main menu unavailable; sending the fallback menu")
            degraded = True
    text = texts.welcome
    if degraded:
        metrics.START_DEGRADED.inc()
        text += "\n\n" + texts.degraded_note
    await bot.send_message(chat_id=chat_id, text=text, reply_markup=markup or keyboards.fallback_menu(texts))


def help_text(texts: Texts, settings: ConversationSettings) -> str:
    def limit(value: int) -> str:
        return str(value) if value else texts.unlimited

    text = texts.help.format(
        hourly=limit(settings.hourly_jobs_per_user),
        daily=limit(settings.daily_jobs_per_user),
        active=limit(settings.active_jobs_per_user),
    )
    contact = " ".join(part for part in (settings.support_telegram, settings.support_text) if part)
    return text + texts.support.format(contact=contact) if contact else text


async def ask_for_prompt(bot: Bot, chat_id: int, state: FSMContext, texts: Texts, model: CatalogModel) -> None:
    await state.set_state(PictureFlow.waiting_prompt)
    await state.set_data({"model": model.id})
    await bot.send_message(
        chat_id=chat_id,
        text=texts.ask_prompt.format(model=model.title, limit=prompt_limit_of(model)),
        reply_markup=keyboards.cancel_prompt(texts),
    )


async def offer_ratios(
    bot: Bot, chat_id: int, state: FSMContext, texts: Texts, *, model: CatalogModel, prompt: str, flow: int
) -> None:
    """Remember the prompt under a fresh flow token, then show the formats (buttons carry the token)."""
    await state.set_state(PictureFlow.choosing_ratio)
    await state.set_data({"model": model.id, "prompt": prompt, "flow": flow})
    await bot.send_message(
        chat_id=chat_id,
        text=texts.choose_ratio,
        reply_markup=keyboards.ratio_choice(texts, flow=flow, ratios=ratios_of(model)),
    )


def refusal_text(texts: Texts, decision: QuotaDecision) -> str:
    if decision.reason == "active":
        return texts.limit_active.format(active=decision.active, limit=decision.limit)
    template = texts.limit_hourly if decision.reason == "hourly" else texts.limit_daily
    return template.format(limit=decision.limit, wait=texts.wait(decision.retry_after))


async def replace_status(bot: Bot, chat_id: int, message_id: int, text: str) -> None:
    """Turn the "⏳" status message into `text`; if it cannot be edited (deleted, too old), send `text` instead."""
    try:
        await bot.edit_message_text(chat_id=chat_id, message_id=message_id, text=text)
    except TelegramBadRequest as exc:
        log.info("status message %s not edited (%s); sending anew", message_id, exc.message)
        await bot.send_message(chat_id=chat_id, text=text)
