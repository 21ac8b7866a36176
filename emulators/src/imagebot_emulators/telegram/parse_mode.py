"""The one entry point for message texts and captions: parse_mode or explicit entities → text, entities."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, bad_request
from .formatting import Entity, EntityError, parse_html
from .markdown import parse_markdown, parse_markdown_v2

_PARSERS = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}


def parse_text(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[Entity]]:
    if entities:
        # Explicit entities win over parse_mode, as in the Bot API.
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise bad_request("can't parse entities JSON object")
        return text.strip(), entities
    if not parse_mode:
        return text.strip(), []
    parser = _PARSERS.get(parse_mode.lower())
    if parser is None:
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    try:
        return parser(text)
    except EntityError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
