"""What every job runner shares: the ledger, the Kie client, the finisher and the job-related settings."""

from __future__ import annotations

from dataclasses import dataclass

from imagebot_common.catalog import Catalog
from imagebot_imagegen.completion import Finisher
from imagebot_imagegen.job_store import JobStore
from imagebot_imagegen.kie.client import KieClient
from imagebot_imagegen.stats import Stats
from imagebot_imagegen.waiters import TaskWaiters


@dataclass
class JobContext:
    store: JobStore
    client: KieClient
    finisher: Finisher
    waiters: TaskWaiters
    catalog: Catalog
    stats: Stats
    instance_id: str
    callback_url: str | None
    single_model_only: bool
    job_timeout: float
    create_stale_after: float  # a `creating` record older than this lost its creator
    finish_stale_after: float  # a `finishing` claim older than this lost its publisher
    poll_initial: float
    reads_per_second: float
