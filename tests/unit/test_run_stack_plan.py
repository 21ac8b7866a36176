"""What `make run` starts: emulators with no tokens; the real services once tokens are set."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

_spec = importlib.util.spec_from_file_location(
    "run_stack", Path(__file__).resolve().parents[2] / "scripts/run_stack.py"
)
run_stack = importlib.util.module_from_spec(_spec)
sys.modules["run_stack"] = run_stack  # dataclasses look their module up there
_spec.loader.exec_module(run_stack)


def names(procs) -> list[str]:
    return [p.name for p in procs]


def test_with_no_tokens_everything_runs_on_the_emulators_in_webhook_mode():
    procs, env, where = run_stack.plan({})
    assert names(procs) == ["nats", "telegram", "kie", "gateway", "dispatcher", "imagegen"]
    assert env["TELEGRAM_API_URL"] == "http://127.0.0.1:8081"
    assert env["KIE_API_URL"] == "http://127.0.0.1:8082"
    assert env["BOT_MODE"] == "webhook"
    assert env["KIE_CALLBACK_BASE_URL"] == env["WEBHOOK_BASE_URL"] == "http://127.0.0.1:10000"
    assert where == "http://127.0.0.1:8081/"


def test_with_real_tokens_and_no_public_url_it_polls_real_telegram_and_calls_real_kie():
    procs, env, where = run_stack.plan({"TELEGRAM_BOT_TOKEN": "1:real", "KIE_API_KEY": "real"})
    assert names(procs) == ["nats", "gateway", "dispatcher", "imagegen"]
    assert env["BOT_MODE"] == "polling"
    assert "TELEGRAM_API_URL" not in env
    assert "KIE_API_URL" not in env
    assert where == "your bot in Telegram"


def test_with_a_public_url_it_registers_a_webhook():
    _, env, _ = run_stack.plan(
        {"TELEGRAM_BOT_TOKEN": "1:real", "KIE_API_KEY": "real", "WEBHOOK_BASE_URL": "https://bot.example.com"}
    )
    assert env["BOT_MODE"] == "webhook"


def test_an_explicit_bot_mode_in_env_or_dotenv_is_kept():
    _, env, _ = run_stack.plan({"TELEGRAM_BOT_TOKEN": "1:real", "BOT_MODE": "polling", "WEBHOOK_BASE_URL": "https://x"})
    assert "BOT_MODE" not in env  # the service reads the configured value itself


def test_a_real_token_without_a_kie_key_keeps_the_kie_emulator():
    procs, env, _ = run_stack.plan({"TELEGRAM_BOT_TOKEN": "1:real"})
    assert "kie" in names(procs)
    assert "telegram" not in names(procs)
    assert env["KIE_API_URL"] == "http://127.0.0.1:8082"
