"""MarkdownV2 and legacy Markdown, after tdlib's parse_markdown_v2 / parse_markdown.

MarkdownV2's rule that matters most: each of _*[]()~`>#+-=|{}.! outside markup must be escaped with a
backslash, or the whole message is rejected. That is the usual production bug, so it is enforced.
"""

from __future__ import annotations

from .formatting import Entity, EntityError, TextBuilder, finish

_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "code": "Code",
    "pre": "Pre",
}
# Opening (and closing) marker → entity type; longer markers first.
_MARKERS = (("__", "underline"), ("||", "spoiler"), ("_", "italic"), ("*", "bold"), ("~", "strikethrough"))
_CLOSERS = {"bold": "*", "italic": "_", "underline": "__", "strikethrough": "~", "spoiler": "||"}


def _byte(text: str, i: int) -> int:
    return len(text[:i].encode())


def _read_url(text: str, i: int) -> tuple[str, int]:
    """The "(url)" after "[text]"; `i` points at "(". Returns the url and the index after ")"."""
    url, j = [], i + 1
    while j < len(text) and text[j] != ")":
        if text[j] == "\\" and j + 1 < len(text):
            j += 1
        url.append(text[j])
        j += 1
    if j >= len(text):
        raise EntityError(f"Can't find end of a URL at byte offset {_byte(text, i)}")
    return "".join(url), j + 1


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    out = TextBuilder()
    entities: list[Entity] = []
    stack: list[dict] = []  # open entities: type, start (UTF-16), byte offset of the marker
    quote_start: int | None = None
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        top = stack[-1]["type"] if stack else None
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) < 127:
            out.add(text[i + 1])
            i += 2
            continue
        if top in ("code", "pre"):  # everything but the closing backticks is literal inside code
            marker = "```" if top == "pre" else "`"
            if text.startswith(marker, i):
                entity = stack.pop()
                extra = {"language": entity["language"]} if "language" in entity else {}
                entities.append(
                    {"type": top, "offset": entity["offset"], "length": out.pos - entity["offset"], **extra}
                )
                i += len(marker)
            else:
                out.add(char)
                i += 1
            continue
        if char == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            entities.append({"type": "blockquote", "offset": quote_start, "length": out.pos - quote_start})
            quote_start = None
        if char == ">" and (i == 0 or text[i - 1] == "\n") and not stack:
            quote_start = out.pos if quote_start is None else quote_start
            i += 1
            continue
        if char not in _RESERVED:
            out.add(char)
            i += 1
            continue
        if top in _CLOSERS and text.startswith(_CLOSERS[top], i):
            entity = stack.pop()
            i += len(_CLOSERS[top])
            if out.pos > entity["offset"]:
                entities.append({"type": top, "offset": entity["offset"], "length": out.pos - entity["offset"]})
            continue
        if top == "text_link" and char == "]":
            entity = stack.pop()
            if not text.startswith("(", i + 1):
                raise EntityError(f"Can't find end of a URL at byte offset {_byte(text, i)}")
            url, i = _read_url(text, i + 1)
            entities.append(
                {"type": "text_link", "offset": entity["offset"], "length": out.pos - entity["offset"], "url": url}
            )
            continue
        opened = _open(text, i, out.pos)
        if opened is None:
            raise EntityError(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        entity, i = opened
        stack.append(entity)
    if quote_start is not None:
        entities.append({"type": "blockquote", "offset": quote_start, "length": out.pos - quote_start})
    if stack:
        raise EntityError(f"Can't find end of {_NAMES[stack[-1]['type']]} entity at byte offset {stack[-1]['byte']}")
    return finish(out, entities)


def _open(text: str, i: int, pos: int) -> tuple[dict, int] | None:
    entity: dict = {"offset": pos, "byte": _byte(text, i)}
    if text.startswith("```", i):
        end_of_line = text.find("\n", i + 3)
        language = text[i + 3 : end_of_line] if end_of_line >= 0 else ""
        if language and " " not in language and "`" not in language:
            entity["language"] = language
            return entity | {"type": "pre"}, end_of_line + 1
        return entity | {"type": "pre"}, i + 3
    if text[i] == "`":
        return entity | {"type": "code"}, i + 1
    if text[i] == "[":
        return entity | {"type": "text_link"}, i + 1
    for marker, kind in _MARKERS:
        if text.startswith(marker, i):
            return entity | {"type": kind}, i + len(marker)
    return None


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out = TextBuilder()
    entities: list[Entity] = []
    kinds = {"*": "bold", "_": "italic", "`": "code"}
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        marker = "```" if text.startswith("```", i) else ("]" if char == "[" else char)
        start = i + (3 if marker == "```" else 1)
        end = text.find(marker, start)
        if end < 0 or (char == "[" and not text.startswith("(", end + 1)):
            raise EntityError(f"Can't find end of the entity starting at byte offset {_byte(text, i)}")
        offset = out.pos
        out.add(text[start:end])
        entity: Entity = {"type": "pre" if marker == "```" else kinds.get(char, "text_link"), "offset": offset}
        i = end + len(marker)
        if char == "[":
            entity["url"], i = _read_url(text, end + 1)
        entity["length"] = out.pos - offset
        if entity["length"]:
            entities.append(entity)
    return finish(out, entities)
