"""One pooled httpx client for Kie.ai: envelope-aware, rate-limited, retrying only what is safe to repeat.

createTask is paid, so it is repeated only when Kie certainly did not take it: 429 ("rejected requests will not
enter the queue"), 455, 5xx, or a transport failure before the request left (connect errors). A timeout after
the request was sent is ambiguous and is raised to the caller, who must not create another task blindly.
recordInfo is a read and is retried on every retryable error. Result files are fetched with a separate
client that never carries the API key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from imagebot_imagegen import metrics
from imagebot_imagegen.kie.errors import (
    KieError,
    KieProtocolError,
    KieRateLimited,
    KieTransportError,
    error_for_code,
)
from imagebot_imagegen.kie.models import TaskRecord
from imagebot_imagegen.rate_limit import SlidingWindowLimiter
from imagebot_imagegen.stats import Stats

log = logging.getLogger("imagebot.imagegen.kie")
tracer = trace.get_tracer("imagebot.imagegen.kie")

USER_AGENT = "imagebot-imagegen/0.1 (+httpx)"
API_CONNECTIONS = 16
FILE_CONNECTIONS = 16
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def transport_error(exc: httpx.HTTPError) -> KieTransportError:
    return KieTransportError(f"{type(exc).__name__}: {exc}", request_sent=not isinstance(exc, _NOT_SENT))


def safe_to_repeat_create(exc: BaseException) -> bool:
    if isinstance(exc, KieTransportError):
        return not exc.request_sent
    return isinstance(exc, KieError) and exc.retryable and not isinstance(exc, KieProtocolError)


def safe_to_repeat_read(exc: BaseException) -> bool:
    return isinstance(exc, KieError) and exc.retryable


def read_envelope(response: httpx.Response) -> Any:
    """`data` of a `{"code","msg","data"}` envelope; any code but 200, or an HTTP error, raises its KieError."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "code" not in body:
        if response.status_code >= 400:
            raise error_for_code(response.status_code, f"HTTP {response.status_code}")
        raise KieProtocolError(f"no envelope in the response (HTTP {response.status_code})")
    try:
        code = int(body["code"])
    except (TypeError, ValueError):
        raise KieProtocolError(f"envelope code is not a number: {body['code']!r}") from None
    message = str(body.get("msg") or body.get("message") or "")
    if code != 200:
        raise error_for_code(code, message)
    if response.status_code >= 400:
        raise error_for_code(response.status_code, message or f"HTTP {response.status_code}")
    return body.get("data")


class KieClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        request_timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_initial: float = 1.0,
        backoff_max: float = 10.0,
        rate_limit_patience: float = 120.0,
        create_limiter: SlidingWindowLimiter | None = None,
        status_limiter: SlidingWindowLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stats: Stats | None = None,
    ) -> None:
        self._stats = stats
        # httpcore's pool scans its whole queue for every request (quadratic with 1,000 waiting jobs), so we
        # queue in front of it: no more requests are inside httpx than it has connections.
        # Every request also probes each pooled connection, so the pools stay small.
        self.slots = asyncio.Semaphore(API_CONNECTIONS)
        self.file_slots = asyncio.Semaphore(FILE_CONNECTIONS)
        self._api = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(request_timeout),
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=API_CONNECTIONS, max_keepalive_connections=API_CONNECTIONS),
            transport=transport,
        )
        self._files = httpx.AsyncClient(
            timeout=httpx.Timeout(request_timeout),
            limits=httpx.Limits(max_connections=FILE_CONNECTIONS, max_keepalive_connections=FILE_CONNECTIONS),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            transport=transport,
        )
        self._max_attempts = max_attempts
        self._rate_limit_patience = rate_limit_patience
        self._wait = wait_exponential_jitter(multiplier=backoff_initial, max=backoff_max)
        self._create_limiter = create_limiter or SlidingWindowLimiter(20, 10.0)
        self._status_limiter = status_limiter or SlidingWindowLimiter(10, 1.0)

    @property
    def files(self) -> httpx.AsyncClient:
        return self._files

    async def aclose(self) -> None:
        await self._api.aclose()
        await self._files.aclose()

    def retrying(self, operation: str, predicate: Any) -> AsyncRetrying:
        def note_retry(state: RetryCallState) -> None:
            metrics.KIE_RETRIES.labels(operation).inc()
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "Kie.ai %s failed (%s); attempt %d of %d", operation, exc, state.attempt_number, self._max_attempts
            )

        def give_up(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, KieRateLimited):  # refused, never queued: safe to wait out, within patience
                return (state.seconds_since_start or 0.0) >= self._rate_limit_patience
            return state.attempt_number >= self._max_attempts

        return AsyncRetrying(
            retry=retry_if_exception(predicate),
            stop=give_up,
            wait=self._wait,
            before_sleep=note_retry,
            reraise=True,
        )

    def _count_error(self, operation: str, code: str) -> None:
        metrics.KIE_ERRORS.labels(operation, code).inc()
        if self._stats is not None:
            self._stats.kie_errors_by_code[code] += 1

    async def _call(self, operation: str, method: str, path: str, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(f"{method} {operation}", kind=SpanKind.CLIENT) as span:
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", path)
            span.set_attribute("server.address", self._api.base_url.host)
            try:
                async with self.slots:
                    response = await self._api.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                self._count_error(operation, "transport")
                raise transport_error(exc) from None
            span.set_attribute("http.response.status_code", response.status_code)
            try:
                data = read_envelope(response)
            except KieError as exc:
                span.set_attribute("kie.code", exc.code)
                metrics.KIE_REQUESTS.labels(operation, str(exc.code)).inc()
                self._count_error(operation, str(exc.code))
                raise
            metrics.KIE_REQUESTS.labels(operation, "200").inc()
            return data

    async def create_task(
        self,
        model: str,
        task_input: dict[str, Any],
        callback_url: str | None,
        *,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> str:
        """The new task's id. `before_send` runs after the rate limiter let us through and right before each
        request goes out: the caller records "a createTask is on the wire" there."""
        body: dict[str, Any] = {"model": model, "input": task_input}
        if callback_url:
            body["callBackUrl"] = callback_url
        async for attempt in self.retrying("createTask", safe_to_repeat_create):
            with attempt:
                await self._create_limiter.acquire()
                if before_send is not None:
                    await before_send()
                data = await self._call("createTask", "POST", "/api/v1/jobs/createTask", json=body)
                task_id = data.get("taskId") if isinstance(data, dict) else None
                if not isinstance(task_id, str) or not task_id:
                    raise KieProtocolError("createTask answered without data.taskId")
                return task_id
        raise AssertionError("unreachable")

    async def record_info(self, task_id: str) -> TaskRecord:
        async for attempt in self.retrying("recordInfo", safe_to_repeat_read):
            with attempt:
                await self._status_limiter.acquire()
                data = await self._call("recordInfo", "GET", "/api/v1/jobs/recordInfo", params={"taskId": task_id})
                try:
                    return TaskRecord.model_validate(data)
                except ValueError as exc:
                    raise KieProtocolError(f"recordInfo data does not parse: {exc}") from None
        raise AssertionError("unreachable")

    async def credit(self) -> float:
        data = await self._call("credit", "GET", "/api/v1/chat/credit")
        try:
            return float(data)
        except (TypeError, ValueError):
            raise KieProtocolError(f"credit is not a number: {data!r}") from None
