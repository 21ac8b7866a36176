"""The composition root's body: NATS -> provisioning -> Kie client -> job worker + callback consumer -> health."""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.client import Client

from imagebot_common.catalog import default_catalog, load_catalog
from imagebot_common.health_server import HealthServer
from imagebot_common.nats.connection import close, connect
from imagebot_common.redaction import mask_url
from imagebot_imagegen.callbacks import CallbackConsumer
from imagebot_imagegen.completion import Finisher
from imagebot_imagegen.context import JobContext
from imagebot_imagegen.health import CreditCache, ImagegenHealth
from imagebot_imagegen.job_store import JobStore
from imagebot_imagegen.kie.client import KieClient
from imagebot_imagegen.provisioning import provision
from imagebot_imagegen.rate_limit import SlidingWindowLimiter
from imagebot_imagegen.settings import ImagegenSettings
from imagebot_imagegen.stats import Stats
from imagebot_imagegen.waiters import TaskWaiters
from imagebot_imagegen.worker import JobWorker

log = logging.getLogger("imagebot.imagegen")


class ImagegenService:
    """Start and stop everything imagegen runs, in one event loop (tests run it in-process too)."""

    def __init__(self, settings: ImagegenSettings, *, on_nats_lost: Callable[[], None] | None = None) -> None:
        """`on_nats_lost`: called if nats-py closes the client for good (the process stops itself)."""
        self.settings = settings
        self._on_nats_lost = on_nats_lost
        self.stats = Stats()
        self.nc: Client | None = None
        self.client: KieClient | None = None
        self.worker: JobWorker | None = None
        self.callbacks: CallbackConsumer | None = None
        self.health: HealthServer | None = None

    async def start(self) -> None:
        s = self.settings
        self.nc = Client()
        await connect(self.nc, s.nats_servers(), name=f"imagegen-{s.instance_id}", on_lost=self._on_nats_lost)
        js = self.nc.jetstream()
        provisioned = await provision(js, s)
        self.client = KieClient(
            s.kie_api_url,
            s.kie_api_key.get_secret_value(),
            request_timeout=s.kie_request_timeout_seconds,
            max_attempts=s.kie_max_attempts,
            backoff_initial=s.kie_retry_backoff_seconds,
            rate_limit_patience=s.kie_rate_limit_patience_seconds,
            create_limiter=SlidingWindowLimiter(s.kie_create_rate_limit, s.kie_create_rate_window_seconds),
            status_limiter=SlidingWindowLimiter(s.kie_status_rate_per_second, 1.0),
            stats=self.stats,
        )
        store = JobStore(provisioned.jobs_kv)
        waiters = TaskWaiters()
        finisher = Finisher(
            store=store,
            client=self.client,
            images=provisioned.images,
            js=js,
            stats=self.stats,
            instance_id=s.instance_id,
            image_max_bytes=s.image_max_bytes,
        )
        catalog = load_catalog(s.model_catalog_path) if s.model_catalog_path else default_catalog()
        callback_url = s.callback_url()
        ctx = JobContext(
            store=store,
            client=self.client,
            finisher=finisher,
            waiters=waiters,
            catalog=catalog,
            stats=self.stats,
            instance_id=s.instance_id,
            callback_url=callback_url,
            single_model_only=s.single_model_only,
            job_timeout=s.image_job_timeout_seconds,
            create_stale_after=s.kie_request_timeout_seconds + 5.0,
            finish_stale_after=4 * s.kie_request_timeout_seconds + 30.0,
            poll_initial=s.kie_poll_initial_seconds,
            reads_per_second=float(s.kie_status_rate_per_second),
        )
        self.worker = JobWorker(
            js, ctx, max_in_flight=s.image_jobs_max_in_flight, ack_wait=s.image_job_ack_wait_seconds
        )
        self.callbacks = CallbackConsumer(
            js, store=store, client=self.client, finisher=finisher, waiters=waiters, stats=self.stats
        )
        await self.worker.start()
        await self.callbacks.start()
        health = ImagegenHealth(
            self.nc,
            js,
            self.stats,
            CreditCache(self.client, s.kie_credit_cache_seconds),
            kie_url=s.kie_api_url,
            callback_url=callback_url,
            loops_alive=self.loops_alive,
        )
        self.health = HealthServer(
            s.health_host,
            s.health_port,
            service="imagegen",
            instance_id=s.instance_id,
            is_alive=health.is_alive,
            is_ready=health.is_ready,
            details=health.details,
            nats=self.nc,  # closed for good by nats-py: neither alive nor ready
        )
        await self.health.start()
        log.info(
            "imagegen %s running: Kie.ai at %s, callbacks %s, NATS %s, up to %d jobs in flight, "
            "createTask <= %d per %.0f s, recordInfo <= %d/s, job timeout %.0f s, health on %s:%d",
            s.instance_id,
            mask_url(s.kie_api_url),
            f"on via {mask_url(callback_url)}" if callback_url else "off (polling only)",
            ", ".join(mask_url(u) for u in s.nats_servers()),
            s.image_jobs_max_in_flight,
            s.kie_create_rate_limit,
            s.kie_create_rate_window_seconds,
            s.kie_status_rate_per_second,
            s.image_job_timeout_seconds,
            s.health_host,
            s.health_port,
        )

    def loops_alive(self) -> bool:
        return all(part is not None and part.is_alive() for part in (self.worker, self.callbacks))

    async def stop(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        if self.worker is not None:
            await self.worker.stop(grace)
        if self.callbacks is not None:
            await self.callbacks.stop(min(grace, 5.0))
        if self.health is not None:
            await self.health.stop()
        if self.client is not None:
            await self.client.aclose()
        if self.nc is not None:
            await close(self.nc)
        log.info("imagegen stopped")
