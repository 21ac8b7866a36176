"""The picture flow: "🖼 Создать картинку" → prompt → format → "⏳ Генерирую…" → a job on IMAGE_JOBS.

The format press is answered first, then the quota is reserved, the status message sent and the job
published under `<bot_id>:<update_id>` of that press, so a retried or redelivered update makes no second job
(its status message id is kept in FSM data for the same reason).
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, Update

from imagebot_common.messages.v1 import ImageJobV1
from imagebot_dispatcher.conversation import metrics
from imagebot_dispatcher.conversation.callbacks import AfterJob, JobAction, Menu, MenuAction, PickRatio
from imagebot_dispatcher.conversation.deliveries import DeliveryLog
from imagebot_dispatcher.conversation.jobs import JobPublisher, JobsUnavailable, job_id_for
from imagebot_dispatcher.conversation.models import ModelChoice, prompt_limit_of, ratios_of
from imagebot_dispatcher.conversation.quotas import QuotaBook
from imagebot_dispatcher.conversation.screens import (
    answer_quietly,
    ask_for_prompt,
    chat_id_of,
    offer_ratios,
    refusal_text,
    replace_status,
)
from imagebot_dispatcher.conversation.states import PictureFlow
from imagebot_dispatcher.conversation.texts import Texts

log = logging.getLogger("imagebot.dispatcher.generate")

router = Router(name=__name__)


@router.callback_query(Menu.filter(F.action == MenuAction.CREATE))
async def create(callback: CallbackQuery, bot: Bot, state: FSMContext, texts: Texts, models: ModelChoice) -> None:
    await answer_quietly(callback)
    await ask_for_prompt(bot, chat_id_of(callback), state, texts, models.default)


@router.message(PictureFlow.waiting_prompt, F.text)
@router.message(PictureFlow.choosing_ratio, F.text)  # a new text while choosing replaces the prompt
async def prompt_given(
    message: Message, bot: Bot, state: FSMContext, event_update: Update, texts: Texts, models: ModelChoice
) -> None:
    model = models.resolve(await state.get_value("model"))
    prompt = (message.text or "").strip()
    limit = prompt_limit_of(model)
    if not prompt:
        await message.answer(texts.prompt_empty)
        return
    if len(prompt) > limit:
        await message.answer(texts.prompt_too_long.format(length=len(prompt), limit=limit))
        return
    await offer_ratios(bot, message.chat.id, state, texts, model=model, prompt=prompt, flow=event_update.update_id)


@router.message(PictureFlow.waiting_prompt)
async def prompt_not_text(message: Message, texts: Texts) -> None:
    await message.answer(texts.prompt_not_text)


@router.callback_query(PictureFlow.choosing_ratio, PickRatio.filter())
async def ratio_chosen(
    callback: CallbackQuery,
    callback_data: PickRatio,
    bot: Bot,
    state: FSMContext,
    event_update: Update,
    texts: Texts,
    models: ModelChoice,
    quotas: QuotaBook,
    jobs: JobPublisher,
) -> None:
    await answer_quietly(callback)  # first: Telegram shows a spinner until the press is answered
    data = await state.get_data()
    model = models.find(data.get("model"))
    prompt = data.get("prompt")
    if model is None or not prompt or data.get("flow") != callback_data.flow:
        await bot.send_message(chat_id=chat_id_of(callback), text=texts.stale_button)  # a keyboard of an old prompt
        return
    if callback_data.aspect_ratio not in ratios_of(model):
        await bot.send_message(chat_id=chat_id_of(callback), text=texts.stale_button)
        return
    chat_id, user_id = chat_id_of(callback), callback.from_user.id
    job_id = job_id_for(bot.id, event_update.update_id)

    decision = await quotas.reserve(bot.id, user_id, job_id)
    if not decision.allowed:
        metrics.JOBS_REFUSED.labels(reason=decision.reason or "quota").inc()
        await bot.send_message(chat_id=chat_id, text=refusal_text(texts, decision))
        return  # the format keyboard stays usable once a slot frees

    status_message_id = data.get("status_message_id") if data.get("pending_job") == job_id else None
    if status_message_id is None:
        status_message_id = (await bot.send_message(chat_id=chat_id, text=texts.generating)).message_id
        await state.update_data(pending_job=job_id, status_message_id=status_message_id)

    job = ImageJobV1(
        job_id=job_id,
        bot_id=bot.id,
        chat_id=chat_id,
        user_id=user_id,
        prompt=prompt,
        aspect_ratio=callback_data.aspect_ratio,  # type: ignore[arg-type]  # checked against ratios_of above
        model=model.id,
        language=texts.language,
        status_message_id=status_message_id,
    )
    try:
        duplicate = await jobs.publish(job)
    except JobsUnavailable:
        metrics.JOBS_REFUSED.labels(reason="busy").inc()
        await quotas.release(bot.id, user_id, job_id, refund=True)
        await state.update_data(pending_job=None, status_message_id=None)
        await replace_status(bot, chat_id, status_message_id, texts.busy)
        return
    if not duplicate:
        metrics.JOBS_PUBLISHED.inc()
    log.info("job %s published (model %s, %s)", job_id, model.id, job.aspect_ratio)
    await state.clear()


@router.callback_query(AfterJob.filter(F.action == JobAction.MORE))
async def create_another(
    callback: CallbackQuery,
    callback_data: AfterJob,
    bot: Bot,
    state: FSMContext,
    texts: Texts,
    models: ModelChoice,
    deliveries: DeliveryLog,
) -> None:
    await answer_quietly(callback)
    record = await deliveries.get(job_id_for(bot.id, callback_data.job))
    model = models.resolve(record.model if record else None)
    await ask_for_prompt(bot, chat_id_of(callback), state, texts, model)


@router.callback_query(AfterJob.filter(F.action == JobAction.RETRY))
async def try_again(
    callback: CallbackQuery,
    callback_data: AfterJob,
    bot: Bot,
    state: FSMContext,
    event_update: Update,
    texts: Texts,
    models: ModelChoice,
    deliveries: DeliveryLog,
) -> None:
    """The same prompt again, from the format choice (the prompt comes from the delivery record)."""
    record = await deliveries.get(job_id_for(bot.id, callback_data.job))
    if record is None:
        await answer_quietly(callback, texts.stale_button, alert=True)
        return
    await answer_quietly(callback)
    model = models.resolve(record.model)
    await offer_ratios(
        bot, chat_id_of(callback), state, texts, model=model, prompt=record.prompt, flow=event_update.update_id
    )
