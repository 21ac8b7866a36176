"""The Telegram emulator reads parameters and HTML markup the way the Bot API does: entity offsets in UTF-16
code units, errors that name the UTF-8 byte offset, forms decoded like urllib's parse_qsl."""

from __future__ import annotations

import re
from typing import Any

import pytest

from imagebot_emulators.telegram.formatting import EntityError, parse_html
from imagebot_emulators.telegram.params import parse_body

pytestmark = pytest.mark.unit


def test_html_gives_plain_text_and_entities_counted_in_utf16_code_units():
    text, entities = parse_html("  <b>Привет</b> 😀 <i>мир</i>  ")
    assert text == "Привет 😀 мир"  # surrounding whitespace stripped, as Telegram does
    assert entities == [{"type": "bold", "offset": 0, "length": 6}, {"type": "italic", "offset": 10, "length": 3}]


def test_nested_tags_and_character_references():
    assert parse_html("<b>a<i>b</i></b>") == (
        "ab",
        [{"type": "bold", "offset": 0, "length": 2}, {"type": "italic", "offset": 1, "length": 1}],
    )
    assert parse_html("a &lt;3 &amp; &#128512; &x") == ("a <3 & 😀 &x", [])


def test_a_code_language_inside_pre_becomes_the_pre_entitys_language():
    assert parse_html('<pre><code class="language-py">x</code></pre>') == (
        "x",
        [{"type": "pre", "offset": 0, "length": 1, "language": "py"}],
    )


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("Ж <x>", 'Unsupported start tag "x" at byte offset 3'),  # Ж is two bytes in UTF-8
        ("Ж </b>", "Unexpected end tag at byte offset 3"),
        ("ЖЖ <b>x</i>", 'Unmatched end tag at byte offset 9, expected "</b>", found "</i>"'),
        ("Ж <b", "Unclosed start tag at byte offset 3"),
        ("Ж </b", "Unclosed end tag at byte offset 3"),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ('<span class="no">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_bad_markup_fails_naming_the_byte_offset_like_telegram(markup: str, error: str):
    with pytest.raises(EntityError, match=f"^{re.escape(error)}$"):
        parse_html(markup)


def test_a_long_text_parses_whole():
    markup = "<b>" + "слово &amp; " * 2_000 + "</b>"
    text, entities = parse_html(markup)
    assert text == ("слово & " * 2_000).strip()
    assert entities == [{"type": "bold", "offset": 0, "length": len(text)}]


def test_forms_decode_like_parse_qsl_with_blank_values_kept_and_the_last_value_winning():
    values: dict[str, Any] = {}
    parse_body("application/x-www-form-urlencoded", b"a=1&b=&c=%D0%9F+x%2B&a=2&&d", values)
    assert values == {"a": "2", "b": "", "c": "П x+", "d": ""}
