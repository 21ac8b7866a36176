"""The gateway's configuration: one class, read once in __main__ (names are a contract, see README)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from imagebot_common.settings import CommonSettings

DEFAULT_ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")


class GatewaySettings(CommonSettings):
    telegram_bot_token: str = Field(min_length=3, description="Bot API token (secret)")
    telegram_api_url: str = "https://api.telegram.org"
    bot_mode: Literal["webhook", "polling"] = "webhook"

    webhook_base_url: str = ""
    webhook_path: str = "/webhook"
    webhook_secret_token: str = Field(default="", max_length=256, pattern=r"^[A-Za-z0-9_-]*$")
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    webhook_allowed_updates: str = ",".join(DEFAULT_ALLOWED_UPDATES)
    webhook_register_attempts: int = Field(default=3, ge=1, le=20)
    webhook_register_backoff: str = Field(default="5,10,20", description="seconds to wait after failed attempt n")
    webhook_check_interval: float = Field(default=300.0, ge=1, description="leader re-checks the webhook this often")
    webhook_drop_pending_on_error: bool = Field(
        default=False, description="opt-in: drop Telegram's backlog when getWebhookInfo shows an error or >10 pending"
    )

    host: str = "0.0.0.0"
    port: int = Field(default=10000, ge=1, le=65535)
    max_body_bytes: int = 1024 * 1024

    update_queue_size: int = Field(default=100_000, ge=1, description="most updates waiting in the stream")
    update_stream_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024 * 1024)
    update_dedup_window: float = Field(default=3600.0, ge=1)
    dispatch_partitions: int = Field(default=16, ge=1, le=1024)
    publish_timeout: float = Field(default=5.0, gt=0, le=30, description="well under Telegram's 60 s")
    retry_after_seconds: int = Field(default=2, ge=1, le=3600, description="Retry-After sent with a 503")

    lease_ttl: float = Field(default=15.0, ge=2, description="registrar / poller lease lifetime")

    polling_timeout: int = Field(default=25, ge=0, le=50, description="getUpdates long-poll seconds")
    polling_limit: int = Field(default=100, ge=1, le=100)

    kie_callback_path: str = "callbacks/kie"
    kie_callback_token: str = ""
    kie_webhook_hmac_key: str = ""
    kie_callback_max_skew: float = Field(default=300.0, ge=1, description="accepted age of X-Webhook-Timestamp")

    shutdown_timeout: float = Field(default=10.0, ge=0)

    @field_validator("webhook_path")
    @classmethod
    def _leading_slash(cls, value: str) -> str:
        return "/" + value.strip("/")

    @field_validator("kie_callback_path")
    @classmethod
    def _no_slashes(cls, value: str) -> str:
        return value.strip("/")

    @model_validator(mode="after")
    def _webhook_needs_a_public_url(self) -> GatewaySettings:
        if self.bot_mode == "webhook" and not self.webhook_base_url:
            raise ValueError("BOT_MODE=webhook needs WEBHOOK_BASE_URL (or set BOT_MODE=polling)")
        return self

    @property
    def bot_id(self) -> int:
        head = self.telegram_bot_token.split(":", 1)[0]
        if not head.isdigit():
            raise ValueError("TELEGRAM_BOT_TOKEN is not a Bot API token (expected <digits>:<secret>)")
        return int(head)

    @property
    def webhook_url(self) -> str:
        return self.webhook_base_url.rstrip("/") + self.webhook_path

    @property
    def allowed_updates(self) -> list[str]:
        return [u.strip() for u in self.webhook_allowed_updates.split(",") if u.strip()]

    @property
    def register_backoff(self) -> list[float]:
        return [float(x) for x in self.webhook_register_backoff.split(",") if x.strip()]
