"""The conversation's settings come from the environment under their documented names."""

from __future__ import annotations

import pytest

from imagebot_dispatcher.settings import DispatcherSettings

pytestmark = pytest.mark.unit


def test_defaults_match_the_documented_ones(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:" + "x" * 30)
    settings = DispatcherSettings(_env_file=None)
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.single_model_only is False
    assert (settings.active_jobs_per_user, settings.hourly_jobs_per_user, settings.daily_jobs_per_user) == (2, 10, 50)
    assert (settings.telegram_chat_rate, settings.telegram_group_per_minute, settings.telegram_global_rate) == (
        1,
        20,
        30,
    )


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_single_model_only_accepts_the_original_bots_spellings(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:" + "x" * 30)
    monkeypatch.setenv("SINGLE_MODEL_ONLY", value)
    assert DispatcherSettings(_env_file=None).single_model_only is True


def test_limits_and_the_api_url_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    env = {
        "TELEGRAM_BOT_TOKEN": "1:" + "x" * 30,
        "TELEGRAM_API_URL": "http://127.0.0.1:8081",
        "ACTIVE_JOBS_PER_USER": "1",
        "HOURLY_JOBS_PER_USER": "0",
        "DAILY_JOBS_PER_USER": "5",
        "TELEGRAM_CHAT_RATE": "0.5",
        "FSM_TTL_SECONDS": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = DispatcherSettings(_env_file=None)
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert (settings.active_jobs_per_user, settings.hourly_jobs_per_user, settings.daily_jobs_per_user) == (1, 0, 5)
    assert settings.telegram_chat_rate == 0.5 and settings.fsm_ttl_seconds == 0
