"""imagegen's Prometheus metrics (default registry, served by HealthServer at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS_IN_FLIGHT = Gauge("imagebot_imagegen_jobs_in_flight", "Image jobs being worked on by this process")
JOBS_STARTED = Counter("imagebot_imagegen_jobs_received_total", "Job deliveries taken from IMAGE_JOBS", ["resumed"])
JOBS_FINISHED = Counter(
    "imagebot_imagegen_jobs_finished_total", "Results published, by outcome and error kind", ["outcome", "kind"]
)
GENERATION_SECONDS = Histogram(
    "imagebot_imagegen_generation_duration_seconds",
    "From createTask to the final task state",
    buckets=(1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300),
)
JOB_SECONDS = Histogram(
    "imagebot_imagegen_job_duration_seconds",
    "From the first delivery of a job to its published result",
    buckets=(1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600),
)
KIE_REQUESTS = Counter(
    "imagebot_imagegen_kie_requests_total", "Kie.ai calls by operation and envelope code", ["operation", "code"]
)
KIE_ERRORS = Counter("imagebot_imagegen_kie_errors_total", "Kie.ai errors by operation and code", ["operation", "code"])
KIE_RETRIES = Counter(
    "imagebot_imagegen_kie_retries_total", "Kie.ai calls repeated after a retryable error", ["operation"]
)
CALLBACKS = Counter("imagebot_imagegen_callbacks_total", "Kie.ai callbacks consumed, by what they led to", ["result"])
CREATE_SKIPPED = Counter(
    "imagebot_imagegen_create_skipped_total",
    "Redelivered jobs that resumed an existing task instead of creating one",
)
IMAGE_BYTES = Histogram(
    "imagebot_imagegen_image_bytes",
    "Size of downloaded pictures",
    buckets=(16e3, 64e3, 256e3, 512e3, 1e6, 2e6, 5e6, 10e6),
)
