"""Stored files of a bot: uploaded photos with their sizes, addressable by file_id and file_path."""

from __future__ import annotations

import base64
import io
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from PIL import Image, UnidentifiedImageError

from .errors import ApiError, bad_request

MAX_UPLOAD_PHOTO = 10 * 1024 * 1024
MAX_URL_PHOTO = 5 * 1024 * 1024
# Telegram's thumbnail sides ("s", "m", "x", "y", "w"); a photo gets every size below its own.
_THUMB_SIDES = (90, 320, 800, 1280, 2560)
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}


def _opaque(prefix: str, nbytes: int) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode().rstrip("=")


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    content_type: str
    file_path: str
    width: int
    height: int

    def photo_size(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "width": self.width,
            "height": self.height,
        }

    def file_object(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


def _inspect(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise bad_request("IMAGE_PROCESS_FAILED") from None
    width, height = image.size
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return image


def _thumbnail(image: Image.Image, side: int) -> tuple[bytes, int, int]:
    copy = image.convert("RGB")
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, format="JPEG", quality=85)
    return out.getvalue(), copy.width, copy.height


@dataclass
class FileStore:
    files: dict[str, StoredFile] = field(default_factory=dict)
    by_path: dict[str, StoredFile] = field(default_factory=dict)
    # Any size's file_id → the whole PhotoSize list, so a re-send by file_id returns the same sizes.
    photos: dict[str, list[StoredFile]] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=itertools.count)

    def _store(self, data: bytes, content_type: str, ext: str, width: int, height: int) -> StoredFile:
        path = f"photos/file_{next(self._counter)}.{ext}"
        stored = StoredFile(
            _opaque("AgACAgIAAxkBAAI", 48), _opaque("AQAD", 12), data, content_type, path, width, height
        )
        self.files[stored.file_id] = stored
        self.by_path[path] = stored
        return stored

    def add_photo(self, data: bytes) -> list[StoredFile]:
        """Validate like Telegram (Pillow must decode it) and keep the bytes as the largest size.

        Telegram re-encodes the original; the emulator keeps it byte-exact so tests can compare, and
        derives the smaller sizes as real JPEG thumbnails.
        """
        if not data:
            raise bad_request("file must be non-empty")
        image = _inspect(data)
        sizes: list[StoredFile] = []
        for side in _THUMB_SIDES:
            if max(image.size) > side:
                thumb, width, height = _thumbnail(image, side)
                sizes.append(self._store(thumb, "image/jpeg", "jpg", width, height))
        fmt = image.format or "JPEG"
        content_type = Image.MIME.get(fmt, "application/octet-stream")
        sizes.append(self._store(data, content_type, _EXTENSIONS.get(fmt, "jpg"), *image.size))
        for size in sizes:
            self.photos[size.file_id] = sizes
        return sizes

    def photo_by_id(self, file_id: str) -> list[StoredFile]:
        sizes = self.photos.get(file_id)
        if sizes is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return sizes


async def download(session: aiohttp.ClientSession, url: str, timeout: float) -> bytes:
    """Fetch a photo the bot gave by URL, as Telegram's servers would (5 MB limit)."""
    failure = bad_request("wrong file identifier/HTTP URL specified")
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if response.status != 200:
                raise failure
            data = bytearray()
            async for chunk in response.content.iter_chunked(256 * 1024):
                data.extend(chunk)
                if len(data) > MAX_URL_PHOTO:
                    raise failure
            return bytes(data)
    except ApiError:
        raise
    except (aiohttp.ClientError, TimeoutError, ValueError):
        raise failure from None
