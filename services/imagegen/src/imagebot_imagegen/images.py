"""The result picture: downloaded once from Kie's URL (size and type checked) and kept in the `images` store."""

from __future__ import annotations

import asyncio

import httpx
from nats.js.object_store import ObjectStore
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from imagebot_common.messages.v1 import ImageRef
from imagebot_imagegen import metrics
from imagebot_imagegen.kie.models import DownloadedImage

ALLOWED_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class ImageDownloadError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ImageDownloadError) and exc.retryable


async def _download_once(files: httpx.AsyncClient, url: str, max_bytes: int) -> DownloadedImage:
    try:
        async with files.stream("GET", url) as response:  # the caller holds a connection slot
            if response.status_code != 200:
                retry = response.status_code == 429 or response.status_code >= 500
                raise ImageDownloadError(f"result download answered HTTP {response.status_code}", retryable=retry)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in ALLOWED_TYPES:
                raise ImageDownloadError(f"result is not a picture ({content_type or 'no type'})", retryable=False)
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise ImageDownloadError(f"result is {declared} bytes, more than {max_bytes}", retryable=False)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ImageDownloadError(f"result exceeds {max_bytes} bytes", retryable=False)
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ImageDownloadError(f"result download failed: {type(exc).__name__}", retryable=True) from None
    if size == 0:
        raise ImageDownloadError("result is empty", retryable=True)
    return DownloadedImage(data=b"".join(chunks), content_type=content_type, source_url=url)


async def download_image(
    files: httpx.AsyncClient, url: str, *, max_bytes: int, slots: asyncio.Semaphore, attempts: int = 4
) -> DownloadedImage:
    retrying = AsyncRetrying(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=0.5, max=5),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            async with slots:
                image = await _download_once(files, url, max_bytes)
            metrics.IMAGE_BYTES.observe(len(image.data))
            return image
    raise AssertionError("unreachable")


async def store_image(store: ObjectStore, name_stem: str, image: DownloadedImage) -> ImageRef:
    """Put the bytes under a name derived from the job: a retried store overwrites, never duplicates."""
    object_name = f"{name_stem}.{ALLOWED_TYPES[image.content_type]}"
    await store.put(object_name, image.data)
    return ImageRef(
        object_name=object_name, content_type=image.content_type, size=len(image.data), source_url=image.source_url
    )
