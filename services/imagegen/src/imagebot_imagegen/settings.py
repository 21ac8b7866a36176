"""imagegen's one settings class: every variable it reads, with its default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from imagebot_common.settings import CommonSettings


class ImagegenSettings(CommonSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    kie_api_key: SecretStr = Field(min_length=1, description="Kie.ai API key (Bearer)")
    kie_api_url: str = "https://api.kie.ai"
    webhook_base_url: str | None = Field(default=None, description="public base URL of the gateway")
    kie_callback_base_url: str | None = Field(default=None, description="overrides WEBHOOK_BASE_URL for callbacks")
    kie_callback_path: str = "callbacks/kie"
    kie_callback_token: SecretStr | None = None
    single_model_only: bool = False
    model_catalog_path: Path | None = Field(default=None, description="catalog JSON; the packaged one if unset")

    health_host: str = "0.0.0.0"
    health_port: int = 10002

    image_job_timeout_seconds: float = Field(default=300.0, gt=0, description="a job gives up after this")
    image_jobs_max_in_flight: int = Field(default=2000, ge=1)
    image_job_ack_wait_seconds: float = Field(default=30.0, gt=1)
    kie_request_timeout_seconds: float = Field(default=30.0, gt=0)
    kie_max_attempts: int = Field(default=5, ge=1, description="tries of one Kie call on retryable errors")
    kie_rate_limit_patience_seconds: float = Field(
        default=120.0, ge=0, description="how long a 429 (never queued, so safe) is waited out"
    )
    kie_retry_backoff_seconds: float = Field(default=1.0, gt=0, description="first wait before a retry")
    kie_poll_initial_seconds: float = Field(default=2.0, gt=0, description="recordInfo interval, first 30 s")
    kie_create_rate_limit: int = Field(default=20, ge=1, description="createTask calls per window")
    kie_create_rate_window_seconds: float = Field(default=10.0, gt=0)
    kie_status_rate_per_second: int = Field(default=10, ge=1, description="recordInfo calls per second")
    kie_credit_cache_seconds: float = Field(default=60.0, ge=0)
    image_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, description="largest picture accepted")
    image_store_ttl_seconds: float = Field(default=3600.0, gt=0)
    image_jobs_kv_ttl_seconds: float = Field(default=24 * 3600.0, gt=0)
    image_jobs_stream_max_msgs: int = Field(default=10_000, ge=1)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, description="SIGTERM: time for in-flight steps")

    def callback_url(self) -> str | None:
        """`{KIE_CALLBACK_BASE_URL or WEBHOOK_BASE_URL}/{KIE_CALLBACK_PATH}?token=…`, or None (polling only)."""
        base = self.kie_callback_base_url or self.webhook_base_url
        if not base:
            return None
        url = f"{base.rstrip('/')}/{self.kie_callback_path.strip('/')}"
        if self.kie_callback_token is not None and self.kie_callback_token.get_secret_value():
            url += f"?token={self.kie_callback_token.get_secret_value()}"
        return url

    def secrets(self) -> list[str]:
        values = [self.kie_api_key.get_secret_value()]
        if self.kie_callback_token is not None:
            values.append(self.kie_callback_token.get_secret_value())
        return values
