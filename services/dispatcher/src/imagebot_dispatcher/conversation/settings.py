"""Settings the conversation reads (composed into DispatcherSettings; never instantiated alone).

Names are the environment variables (upper-cased). Zero disables a per-user limit.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

DAY = 24 * 3600


class ConversationSettings(BaseSettings):
    # Telegram
    telegram_bot_token: str = Field(description="Bot API token (secret; registered with the log redactor)")
    telegram_api_url: str = Field(
        default="https://api.telegram.org", description="Bot API server base URL (an emulator in dev and tests)"
    )
    telegram_request_timeout_seconds: float = Field(default=30.0, gt=0, description="timeout of one Bot API call")

    # What the bot offers
    single_model_only: bool = Field(default=False, description="offer z-image only; hide the model catalog")
    catalog_path: str | None = Field(default=None, description="catalog file; None = the packaged catalog.json")
    support_telegram: str = Field(default="", description="support contact shown in /help, e.g. @imagebot_support")
    support_text: str = Field(default="", description="extra support text shown in /help")

    # Cost protection (per user, counted in the NATS KV bucket `quotas`)
    active_jobs_per_user: int = Field(default=2, ge=0, description="generations in flight per user (0 = no limit)")
    active_job_ttl_seconds: float = Field(
        default=600.0, gt=0, description="an unanswered job stops counting as active after this long"
    )
    hourly_jobs_per_user: int = Field(default=10, ge=0, description="jobs per user per rolling hour (0 = no limit)")
    daily_jobs_per_user: int = Field(default=50, ge=0, description="jobs per user per rolling 24 h (0 = no limit)")

    # Outbound Telegram limits (honoured by the session middleware)
    telegram_chat_rate: float = Field(default=1.0, gt=0, description="messages per second into one chat")
    telegram_chat_burst: int = Field(default=2, ge=1, description="messages one chat may get at once")
    telegram_group_per_minute: int = Field(default=20, ge=1, description="messages per minute into one group")
    telegram_global_rate: float = Field(default=30.0, gt=0, description="messages per second overall")
    telegram_max_attempts: int = Field(default=4, ge=1, le=10, description="tries of one call on 5xx or network errors")
    telegram_backoff_seconds: float = Field(default=0.5, gt=0, description="first retry delay (doubles, jittered)")
    telegram_max_retry_after_seconds: float = Field(
        default=60.0, gt=0, description="longest 429 retry_after waited in place; a longer one fails the call"
    )
    telegram_max_retry_after_waits: int = Field(default=5, ge=0, description="429s waited out per call")

    # NATS KV use inside handlers
    conversation_kv_timeout_seconds: float = Field(
        default=0.3, gt=0, description="per KV operation; past it the conversation degrades (/start still answers)"
    )
    fsm_ttl_seconds: float = Field(default=7 * DAY, ge=0, description="FSM state/data expiry (0 = never)")
    delivered_results_ttl_seconds: float = Field(
        default=7 * DAY, gt=0, description="how long delivered job ids (and retry prompts) are remembered"
    )
    job_publish_timeout_seconds: float = Field(default=2.0, gt=0, description="wait for IMAGE_JOBS to ack a job")
    image_fetch_timeout_seconds: float = Field(default=10.0, gt=0, description="read of one picture from `images`")
