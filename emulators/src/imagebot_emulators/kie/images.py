"""Result pictures: the prompt written on a canvas coloured from the prompt, in the asked aspect ratio."""

from __future__ import annotations

import colorsys
import hashlib
import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont


def size_for(aspect_ratio: str, long_side: int) -> tuple[int, int]:
    try:
        w, h = (int(part) for part in aspect_ratio.split(":"))
    except ValueError:
        w, h = 1, 1
    if w >= h:
        return long_side, max(1, round(long_side * h / w))
    return max(1, round(long_side * w / h)), long_side


# Pillow's built-in font has no Cyrillic; prompts are often Russian. Use a system font that has it if any.
_CYRILLIC_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _CYRILLIC_FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def draw_png(prompt: str, aspect_ratio: str, long_side: int, label: str = "") -> bytes:
    """A PNG of `long_side` px on its long side; drawing stays in the low milliseconds (fast PNG compression)."""
    width, height = size_for(aspect_ratio, long_side)
    digest = hashlib.sha256(prompt.encode()).digest()
    r, g, b = colorsys.hsv_to_rgb(digest[0] / 255, 0.55, 0.75)
    image = Image.new("RGB", (width, height), (int(r * 255), int(g * 255), int(b * 255)))
    draw = ImageDraw.Draw(image)
    font_size = max(10, width // 24)
    chars_per_line = max(8, int(width / (font_size * 0.6)) - 2)
    lines = textwrap.wrap(prompt, chars_per_line)[: max(1, height // (font_size * 2))]
    text = "\n".join([*lines, "", f"{label} {aspect_ratio}".strip()])
    draw.multiline_text((font_size, font_size), text, fill=(255, 255, 255), font=_font(font_size))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()
