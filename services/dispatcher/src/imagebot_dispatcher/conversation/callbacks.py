"""Typed callback_data of every inline button (Telegram allows 1–64 bytes; aiogram checks on pack).

Buttons that act on a particular prompt carry a token of that prompt (`flow`) or job (`job`), so a button left
over from an earlier conversation is recognised as stale instead of acting on today's state.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class MenuAction(StrEnum):
    MAIN = "main"
    CREATE = "create"
    HELP = "help"
    MODELS = "models"


class Menu(CallbackData, prefix="menu"):
    action: MenuAction


class PickModel(CallbackData, prefix="model"):
    model: str  # a catalog id, e.g. "z-image" or "seedream/4.5-text-to-image"


class PickRatio(CallbackData, prefix="ratio"):
    flow: int  # update id of the message that gave the prompt
    ratio: str  # "16x9": the separator ':' cannot appear inside a field

    @property
    def aspect_ratio(self) -> str:
        return self.ratio.replace("x", ":")

    @staticmethod
    def encode(aspect_ratio: str) -> str:
        return aspect_ratio.replace(":", "x")


class JobAction(StrEnum):
    MORE = "more"  # a new prompt for the same model
    RETRY = "retry"  # the same prompt again, from the format choice


class AfterJob(CallbackData, prefix="job"):
    action: JobAction
    job: int  # update id of the button press that created the job (the bot id is implied)
