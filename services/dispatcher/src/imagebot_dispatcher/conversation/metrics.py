"""Prometheus metrics of the conversation (default registry, served by the dispatcher's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TELEGRAM_RETRY_AFTER = Counter(
    "imagebot_dispatcher_telegram_retry_after_total",
    "Telegram 429 answers (flood control), by Bot API method",
    ["method"],
)
TELEGRAM_RETRIES = Counter(
    "imagebot_dispatcher_telegram_retries_total",
    "Bot API calls retried after a 5xx or a network error, by method and reason",
    ["method", "reason"],
)
TELEGRAM_THROTTLE_SECONDS = Histogram(
    "imagebot_dispatcher_telegram_throttle_seconds",
    "Time a Bot API call waited for the outbound rate limits",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
START_DEGRADED = Counter(
    "imagebot_dispatcher_start_degraded_total",
    "/start answered in degraded mode (FSM storage or catalog unavailable)",
)
JOBS_PUBLISHED = Counter("imagebot_dispatcher_jobs_published_total", "Picture jobs published to IMAGE_JOBS")
JOBS_REFUSED = Counter(
    "imagebot_dispatcher_jobs_refused_total",
    "Picture requests not turned into jobs, by reason (quota kinds, busy)",
    ["reason"],
)
RESULTS_DELIVERED = Counter(
    "imagebot_dispatcher_results_delivered_total",
    "Image results delivered to users, by outcome (succeeded, failed, duplicate, undeliverable)",
    ["outcome"],
)
