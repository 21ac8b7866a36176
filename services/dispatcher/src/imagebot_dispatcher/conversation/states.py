"""FSM states of the picture flow. FSM data holds `model`, then `prompt` and `flow` (the prompt's update id),
and while a job is being published `pending_job` and `status_message_id` (so a retried handler reuses them)."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class PictureFlow(StatesGroup):
    waiting_prompt = State()
    choosing_ratio = State()
