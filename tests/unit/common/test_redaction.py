"""Secrets never leave: registered values and anything shaped like a bot token are masked."""

from __future__ import annotations

import logging

import pytest

from imagebot_common.logs import TEXT_FORMAT, JsonFormatter, RedactingTextFormatter
from imagebot_common.redaction import Redactor, mask_url

pytestmark = pytest.mark.unit


def test_registered_secrets_are_masked_wherever_they_appear():
    redactor = Redactor()
    redactor.register("kie-key-0123456789", None, "")
    assert redactor.redact("Bearer kie-key-0123456789 failed") == "Bearer *** failed"


def test_bot_tokens_are_masked_even_when_nobody_registered_them():
    redactor = Redactor()
    text = "GET https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe failed"
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in redactor.redact(text)
    assert "/bot***/getMe" in redactor.redact(text)


def test_short_values_are_not_registered_so_ordinary_words_survive():
    redactor = Redactor()
    redactor.register("abc")
    assert redactor.redact("abc def") == "abc def"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bot.example.com/webhook", "https://bot.example.com/webhook"),
        ("https://bot.example.com/webhook/s3cr3t", "https://bot.example.com/webhook/***"),
        ("https://user:pw@bot.example.com:8443/cb/kie?token=t0k3n", "https://bot.example.com:8443/cb/***?***"),
        ("", ""),
    ],
)
def test_urls_are_shown_with_everything_after_the_first_path_segment_masked(url: str, shown: str):
    assert mask_url(url) == shown


@pytest.mark.parametrize("formatter", [RedactingTextFormatter(TEXT_FORMAT), JsonFormatter()], ids=["text", "json"])
def test_log_lines_are_redacted_in_both_formats(formatter: logging.Formatter):
    from imagebot_common.redaction import redactor

    redactor.register("webhook-secret-xyz-123")
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "secret is %s", ("webhook-secret-xyz-123",), None)
    record.trace_id = record.span_id = ""
    assert "webhook-secret-xyz-123" not in formatter.format(record)
