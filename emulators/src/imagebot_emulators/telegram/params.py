"""Bot API parameters from the query string, JSON, url-encoded forms and multipart uploads.

Telegram accepts all four encodings. In forms every value is a string and objects (reply_markup,
entities, allowed_updates...) are JSON strings, so typed accessors convert on read, never on parse.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from yarl import URL

from .errors import ApiError, bad_request

MAX_REQUEST_BYTES = 50 * 1024 * 1024  # Telegram's cap for any multipart upload
# Parameters whose value is an object or array; form clients send these as JSON text.
OBJECT_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "reply_parameters",
        "link_preview_options",
        "media",
    }
)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request; the bytes are kept so tests can fetch them back."""

    field: str
    filename: str
    content_type: str
    data: bytes


class Params:
    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload]) -> None:
        self._values = values
        self._uploads = uploads

    def has(self, name: str) -> bool:
        return name in self._values or name in self._uploads

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str, default: float) -> float:
        value = self._values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def boolean(self, name: str) -> bool:
        value = self._values.get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        return isinstance(value, str) and value.strip().lower() in {"true", "1", "yes"}

    def json(self, name: str) -> Any:
        value = self._values.get(name)
        if not isinstance(value, str):
            return value
        if value.strip() == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def file(self, name: str) -> Upload | str | None:
        """An uploaded part (directly under `name` or referenced as `attach://<part>`), else the string."""
        if name in self._uploads:
            return self._uploads[name]
        value = self.text(name)
        if value is not None and value.startswith("attach://"):
            part = self._uploads.get(value.removeprefix("attach://"))
            if part is None:
                raise bad_request(f"can't find attached file {value!r}")
            return part
        return value

    def summary(self) -> dict[str, Any]:
        """The parameters for the request log: objects decoded, uploads reduced to name and size."""
        out: dict[str, Any] = {}
        for key, value in self._values.items():
            if key in OBJECT_PARAMS and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            out[key] = value
        for key, upload in self._uploads.items():
            out[key] = {"upload": upload.filename, "size": len(upload.data), "content_type": upload.content_type}
        return out


async def read_multipart(reader: MultipartReader, values: dict[str, Any], uploads: dict[str, Upload]) -> None:
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        data = bytearray()
        while chunk := await part.read_chunk(256 * 1024):
            total += len(chunk)
            if total > MAX_REQUEST_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            data.extend(chunk)
        if part.filename is not None:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            uploads[part.name] = Upload(part.name, part.filename, content_type, bytes(data))
        else:
            values[part.name] = bytes(data).decode("utf-8", errors="replace")


def parse_body(content_type: str, body: bytes, values: dict[str, Any]) -> None:
    """JSON or url-encoded bodies; any other content type is ignored, like Telegram does."""
    if not body:
        return
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise bad_request("can't parse request JSON object") from None
        if not isinstance(data, dict):
            raise bad_request("can't parse request JSON object")
        values.update(data)
    elif content_type == "application/x-www-form-urlencoded":
        # yarl's decoder (C) gives what urllib's parse_qsl(keep_blank_values=True) gives, at a tenth of the cost:
        # aiogram sends every method as a form, and this was a fifth of the emulator's CPU per sendMessage.
        form = URL.build(query_string=body.decode("utf-8", errors="replace"), encoded=True).query
        values.update(form.items())


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.content_type.startswith("multipart/"):
        await read_multipart(await request.multipart(), values, uploads)
    elif request.body_exists:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        parse_body(request.content_type, body, values)
    return Params(values, uploads)
