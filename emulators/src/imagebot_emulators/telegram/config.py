"""Tuning knobs of the emulator. Defaults are Telegram's own numbers; tests shrink the delays."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmulatorConfig:
    # Webhook retry schedule (telegram-bot-api WebhookActor): the first retry is immediate, then the delay
    # doubles from `retry_base_delay` up to `retry_max_delay` (Telegram caps at a random 60-120 s).
    retry_base_delay: float = 2.0
    retry_max_delay: float = 60.0
    # Telegram closes a webhook request after 60 s and re-sends the update ("Read timeout expired").
    webhook_timeout: float = 60.0
    # Telegram lets one non-empty setWebhook through per second per bot and answers 429 beyond that.
    # Turned off when several test cases reconfigure the same bot in quick succession.
    set_webhook_rate_limit: bool = True
    # After 10 s without a successful delivery Telegram opens only one connection at a time.
    error_slowdown: bool = True
    error_slowdown_after: float = 10.0
    # How long a callback query can still be answered. Telegram does not document it; "seconds" per
    # community reports, so this is a guess that keeps "answer first, work later" honest.
    callback_answer_window: float = 15.0
    # The Bot API server caps the getUpdates long-poll timeout at 50 s.
    max_poll_timeout: float = 50.0
    # Timeouts of the emulator's own outbound work: webhook verification and sendPhoto by URL.
    verify_timeout: float = 5.0
    download_timeout: float = 20.0
    # A fault of kind "timeout" without an explicit delay hangs longer than aiogram's 60 s default.
    fault_timeout_delay: float = 75.0
