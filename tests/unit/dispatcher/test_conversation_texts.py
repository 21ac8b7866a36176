"""What the bot says: language choice, every failure kind, waits, captions, help and button data sizes."""

from __future__ import annotations

from dataclasses import fields
from typing import get_args

import pytest

from imagebot_common.catalog import default_catalog
from imagebot_common.messages.v1 import ASPECT_RATIOS, ErrorKind
from imagebot_dispatcher.conversation.callbacks import AfterJob, JobAction, Menu, MenuAction, PickModel, PickRatio
from imagebot_dispatcher.conversation.quotas import QuotaDecision
from imagebot_dispatcher.conversation.results import caption_for
from imagebot_dispatcher.conversation.screens import help_text, refusal_text
from imagebot_dispatcher.conversation.settings import ConversationSettings
from imagebot_dispatcher.conversation.texts import EN, RU, texts_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("code", "texts"), [("en", EN), ("en-GB", EN), ("EN", EN), ("ru", RU), ("uk", RU), (None, RU)])
def test_english_is_for_en_language_codes_and_russian_for_everyone_else(code, texts):
    assert texts_for(code) is texts


def test_both_languages_fill_every_text():
    for field in fields(RU):
        assert getattr(RU, field.name), field.name
        assert getattr(EN, field.name), field.name
    assert RU.ratio_labels.keys() == EN.ratio_labels.keys() == set(ASPECT_RATIOS)


@pytest.mark.parametrize("kind", get_args(ErrorKind))
def test_every_failure_kind_has_a_message_in_both_languages(kind):
    assert RU.failure(kind) and EN.failure(kind)


def test_the_five_named_failures_have_their_own_messages():
    named = ("insufficient_credits", "content_rejected", "generation_failed", "provider_unavailable", "timeout")
    assert len({RU.failure(kind) for kind in named}) == 5


@pytest.mark.parametrize(
    ("seconds", "ru", "en"), [(30, "1 мин", "1 min"), (61, "2 мин", "2 min"), (3700, "1 ч 2 мин", "1 h 2 min")]
)
def test_waits_are_rounded_up_to_the_minute(seconds, ru, en):
    assert (RU.wait(seconds), EN.wait(seconds)) == (ru, en)


def test_quota_refusals_name_the_limit_and_the_wait():
    assert refusal_text(RU, QuotaDecision(False, "hourly", 10, retry_after=1500)) == (
        "⏰ Часовой лимит исчерпан (10 в час). Попробуйте снова через 25 мин."
    )
    assert "1 of 1" in refusal_text(EN, QuotaDecision(False, "active", 1, active=1))
    assert "per day" in refusal_text(EN, QuotaDecision(False, "daily", 50, retry_after=60))


def test_a_prompt_within_the_caption_limit_is_the_caption():
    assert caption_for("кот") == "кот"
    assert caption_for("x" * 1024) == "x" * 1024


def test_a_long_prompt_is_cut_in_utf16_units_with_an_ellipsis():
    caption = caption_for("😀" * 600)  # each emoji is two UTF-16 units
    assert caption.endswith("…")
    assert len(caption.encode("utf-16-le")) // 2 <= 1024
    assert caption[:-1] == "😀" * 511


def test_help_shows_limits_unlimited_ones_and_the_support_contact():
    settings = ConversationSettings.model_construct(
        hourly_jobs_per_user=5, daily_jobs_per_user=0, active_jobs_per_user=2, support_telegram="@help", support_text=""
    )
    text = help_text(RU, settings)
    assert "5 в час" in text and "без ограничений в сутки" in text and "Поддержка: @help" in text


def test_every_button_fits_telegrams_64_bytes():
    longest_model = max((m.id for m in default_catalog().models), key=len)
    packed = [
        Menu(action=MenuAction.MODELS).pack(),
        PickModel(model=longest_model).pack(),
        PickRatio(flow=2**53, ratio=PickRatio.encode("16:9")).pack(),
        AfterJob(action=JobAction.RETRY, job=2**53).pack(),
    ]
    assert all(len(data.encode()) <= 64 for data in packed)


def test_a_format_button_round_trips_its_ratio():
    data = PickRatio.unpack(PickRatio(flow=7, ratio=PickRatio.encode("9:16")).pack())
    assert (data.flow, data.aspect_ratio) == (7, "9:16")
