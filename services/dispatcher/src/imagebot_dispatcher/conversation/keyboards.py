"""Inline keyboards. Each is a pure function of texts and plain values, so it can be built in degraded mode."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from imagebot_common.catalog import CatalogModel
from imagebot_dispatcher.conversation.callbacks import AfterJob, JobAction, Menu, MenuAction, PickModel, PickRatio
from imagebot_dispatcher.conversation.texts import Texts


def _button(text: str, data: Menu | PickModel | PickRatio | AfterJob) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def main_menu(texts: Texts, *, show_models: bool) -> InlineKeyboardMarkup:
    rows = [[_button(texts.btn_create, Menu(action=MenuAction.CREATE))]]
    if show_models:
        rows.append([_button(texts.btn_models, Menu(action=MenuAction.MODELS))])
    rows.append([_button(texts.btn_help, Menu(action=MenuAction.HELP))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def fallback_menu(texts: Texts) -> InlineKeyboardMarkup:
    """The degraded-mode menu: no catalog, nothing that could fail to build."""
    return main_menu(texts, show_models=False)


def back_to_menu(texts: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(texts.btn_menu, Menu(action=MenuAction.MAIN))]])


def cancel_prompt(texts: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(texts.btn_cancel, Menu(action=MenuAction.MAIN))]])


def models_menu(texts: Texts, models: Sequence[CatalogModel]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for model in models:
        title = model.title if model.verified else f"{model.title} {texts.model_beta}"
        builder.row(_button(title, PickModel(model=model.id)))
    builder.row(_button(texts.btn_menu, Menu(action=MenuAction.MAIN)))
    return builder.as_markup()


def ratio_choice(texts: Texts, *, flow: int, ratios: Sequence[str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for ratio in ratios:
        builder.button(text=texts.ratio_label(ratio), callback_data=PickRatio(flow=flow, ratio=PickRatio.encode(ratio)))
    builder.adjust(2)
    builder.row(_button(texts.btn_cancel, Menu(action=MenuAction.MAIN)))
    return builder.as_markup()


def after_picture(texts: Texts, *, job: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(texts.btn_more, AfterJob(action=JobAction.MORE, job=job))],
            [_button(texts.btn_menu, Menu(action=MenuAction.MAIN))],
        ]
    )


def after_failure(texts: Texts, *, job: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(texts.btn_retry, AfterJob(action=JobAction.RETRY, job=job))],
            [_button(texts.btn_menu, Menu(action=MenuAction.MAIN))],
        ]
    )
