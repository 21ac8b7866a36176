"""Pure rules of the gateway: secrets, callback signatures, when to re-register, what counts as an update."""

from __future__ import annotations

import time

import pytest

from imagebot_gateway.intake import parse_update
from imagebot_gateway.kie_auth import sign, signature_problem
from imagebot_gateway.registration import should_drop_pending, webhook_matches
from imagebot_gateway.settings import GatewaySettings
from imagebot_gateway.webhook_secret import derive_webhook_secret, effective_webhook_secret, secret_matches

pytestmark = pytest.mark.unit

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def settings(**overrides: object) -> GatewaySettings:
    values = {"telegram_bot_token": TOKEN, "webhook_base_url": "https://bot.example.com", **overrides}
    return GatewaySettings(_env_file=None, **values)


def test_the_derived_secret_is_stable_allowed_by_telegram_and_does_not_reveal_the_token():
    secret = derive_webhook_secret(TOKEN)
    assert secret == derive_webhook_secret(TOKEN)
    assert 1 <= len(secret) <= 256
    assert all(c.isalnum() or c in "_-" for c in secret)
    assert TOKEN.split(":")[1] not in secret
    assert derive_webhook_secret("1:other-token-aaaaaaaaaaaaaaaaaaaa") != secret


def test_a_configured_secret_wins_over_the_derived_one():
    assert effective_webhook_secret("mine", TOKEN) == "mine"
    assert effective_webhook_secret("", TOKEN) == derive_webhook_secret(TOKEN)


def test_a_missing_header_never_matches():
    assert not secret_matches("s", None)
    assert secret_matches("s", "s")


def test_webhook_mode_without_a_public_url_is_refused_with_the_variable_named():
    with pytest.raises(ValueError, match="WEBHOOK_BASE_URL"):
        settings(webhook_base_url="")


def test_a_matching_webhook_without_recent_errors_needs_no_registration():
    config = settings()
    info = {"url": config.webhook_url, "allowed_updates": config.allowed_updates, "max_connections": 40}
    assert webhook_matches(info, config)
    assert not webhook_matches({**info, "url": "https://old.example.com/webhook"}, config)
    assert not webhook_matches({**info, "max_connections": 100}, config)
    assert not webhook_matches({**info, "last_error_date": int(time.time()) - 5}, config)
    assert webhook_matches({**info, "last_error_date": int(time.time()) - 3600}, config)


def test_the_opt_in_drop_policy_triggers_on_errors_or_a_backlog_over_ten():
    assert should_drop_pending({"last_error_message": "Read timeout expired"})
    assert should_drop_pending({"pending_update_count": 11})
    assert not should_drop_pending({"pending_update_count": 10})


def test_a_kie_signature_is_valid_only_when_fresh_and_made_with_the_key():
    now = time.time()
    stamp = str(int(now))
    good = sign("hmac-key", "task1", stamp)
    assert signature_problem("hmac-key", "task1", stamp, good, 300, now) is None
    assert "bad" in signature_problem("hmac-key", "task2", stamp, good, 300, now)
    assert "old" in signature_problem("hmac-key", "task1", str(int(now) - 301), good, 300, now)
    assert "missing" in signature_problem("hmac-key", "task1", None, good, 300, now)


@pytest.mark.parametrize(
    ("body", "is_update"),
    [(b'{"update_id": 1}', True), (b'{"update_id": 1.5}', False), (b"[]", False), (b"{", False), (b"\xff", False)],
)
def test_an_update_is_a_json_object_with_an_integer_update_id(body: bytes, is_update: bool):
    assert (parse_update(body) is not None) is is_update
