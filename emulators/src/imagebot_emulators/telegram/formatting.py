"""parse_mode handling: turn marked-up text into plain text plus entities, failing like Telegram.

A bot that forgets to escape user input gets "can't parse entities" from the real API; the emulator
must fail the same way or such bugs only show in production. The parsers follow tdlib's
MessageEntity.cpp closely enough for the common tags and error cases, not byte for byte.
"""

from __future__ import annotations

import html
import re
from typing import Any

Entity = dict[str, Any]

_TAG_NAME = re.compile(r"[A-Za-z0-9-]*")
_CHAR_REFERENCE = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_MARKUP = re.compile(r"[<&]")
_ATTR = re.compile(r"""\s*([A-Za-z0-9_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_ALL_TAGS = {*_SIMPLE_TAGS, "a", "span", "tg-emoji", "blockquote"}


class EntityError(Exception):
    pass


class TextBuilder:
    """Accumulates output text and its length in UTF-16 code units (entity offsets use them)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def add(self, chars: str) -> None:
        self.parts.append(chars)
        self.pos += len(chars.encode("utf-16-le")) // 2

    def text(self) -> str:
        return "".join(self.parts)


def finish(builder: TextBuilder, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strip surrounding whitespace like Telegram and shift the entities accordingly."""
    raw = builder.text()
    lead = len(raw[: len(raw) - len(raw.lstrip())].encode("utf-16-le")) // 2
    text = raw.strip()
    size = len(text.encode("utf-16-le")) // 2
    out = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            out.append({**entity, "offset": start, "length": end - start})
    out.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, out


def _entity_for(tag: str, attrs: dict[str, str], offset: int, length: int) -> Entity | None:
    if tag == "a":
        href = attrs.get("href", "")
        match = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if match:
            return {"type": "text_mention", "offset": offset, "length": length, "user": {"id": int(match[1])}}
        return {"type": "text_link", "offset": offset, "length": length, "url": href} if href else None
    if tag == "span":
        return {"type": "spoiler", "offset": offset, "length": length}
    if tag == "tg-emoji":
        return {
            "type": "custom_emoji",
            "offset": offset,
            "length": length,
            "custom_emoji_id": attrs.get("emoji-id", ""),
        }
    if tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        return {"type": kind, "offset": offset, "length": length}
    entity: Entity = {"type": _SIMPLE_TAGS[tag], "offset": offset, "length": length}
    if tag == "pre" and attrs.get("language"):
        entity["language"] = attrs["language"]
    return entity


def _at(text: str, index: int) -> str:
    """Where Telegram's error messages point: the UTF-8 byte offset of `text[index]`."""
    return f"at byte offset {len(text[:index].encode())}"


def parse_html(text: str) -> tuple[str, list[Entity]]:
    # Linear in the text: plain runs are copied whole, and byte offsets are counted only for an error message
    # (counting them per character made a menu text cost the emulator more than the request around it).
    out = TextBuilder()
    stack: list[tuple[str, dict[str, str], int]] = []
    entities: list[Entity] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            match = _CHAR_REFERENCE.match(text, i)
            out.add(html.unescape(match.group()) if match else "&")
            i += len(match.group()) if match else 1
        elif char != "<":
            run_end = _MARKUP.search(text, i)
            end = run_end.start() if run_end else n
            out.add(text[i:end])
            i = end
        elif text.startswith("</", i):
            end = text.find(">", i)
            if end < 0:
                raise EntityError(f"Unclosed end tag {_at(text, i)}")
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise EntityError(f"Unexpected end tag {_at(text, i)}")
            tag, attrs, start = stack.pop()
            if name != tag:
                raise EntityError(f'Unmatched end tag {_at(text, i)}, expected "</{tag}>", found "</{name}>"')
            if tag == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", "").startswith("language-"):
                stack[-1][1]["language"] = attrs["class"].removeprefix("language-")
            elif out.pos > start and (entity := _entity_for(tag, attrs, start, out.pos - start)):
                entities.append(entity)
            i = end + 1
        else:
            name = _TAG_NAME.match(text, i + 1).group().lower()  # type: ignore[union-attr]
            if name not in _ALL_TAGS:
                raise EntityError(f'Unsupported start tag "{name}" {_at(text, i)}')
            close = text.find(">", i)
            if close < 0:
                raise EntityError(f"Unclosed start tag {_at(text, i)}")
            attrs = {
                m[1].lower(): html.unescape(m[2] or m[3] or m[4] or "")
                for m in _ATTR.finditer(text, i + 1 + len(name), close)
            }
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise EntityError(f'Tag "span" must have class "tg-spoiler" {_at(text, i)}')
            stack.append((name, attrs, out.pos))
            i = close + 1
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return finish(out, entities)
