"""Secrets never leave: one registry of secret values, scrubbed from every log line and span attribute."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# A Bot API token looks like 123456789:AA...; it also appears inside URLs as /bot<token>/.
_BOT_TOKEN_RE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}\b")
_BOT_URL_TOKEN_RE = re.compile(r"/bot(?!\{token\}/)[^/\s]+/")  # a template `/bot{token}/` is not a secret


class Redactor:
    """Replaces every registered secret (and anything shaped like a bot token) with `***`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def register(self, *secrets: str | None) -> None:
        with self._lock:
            known = set(self._secrets)
            # Very short values would mask innocent text; real secrets are long.
            known.update(s for s in secrets if s and len(s) >= 6)
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _BOT_URL_TOKEN_RE.sub(f"/bot{MASK}/", text)
        return _BOT_TOKEN_RE.sub(MASK, text)

    def redact_all(self, values: Iterable[str]) -> list[str]:
        return [self.redact(v) for v in values]


redactor = Redactor()


def mask_url(url: str) -> str:
    """An URL safe to show: scheme, host and the first path segment; the rest, query and user info masked.

    `https://bot.example.com/webhook/abc?x=1` -> `https://bot.example.com/webhook/***`
    """
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    segments = [s for s in parts.path.split("/") if s]
    path = ""
    if segments:
        path = "/" + segments[0]
        if len(segments) > 1:
            path += "/" + MASK
    query = MASK if parts.query else ""
    return urlunsplit((parts.scheme, host, path, query, ""))
