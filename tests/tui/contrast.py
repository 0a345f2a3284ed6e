"""WCAG 2 contrast of what a widget draws, read from its rendered segments.

``Widget.render_lines`` returns the lines after Textual's filters (ANSI colours made
truecolor; greys under NO_COLOR), which is what reaches the terminal. Reverse video swaps
the colours as a terminal does. Over SSH a terminal usually gets 256 colours: ``shown`` can
round each colour to the 256-colour palette as Rich does on the way out.
https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.color import Color, ColorSystem
from rich.segment import Segment

Rgb = tuple[int, int, int]


def relative_luminance(rgb: Rgb) -> float:
    """https://www.w3.org/TR/WCAG21/#dfn-relative-luminance"""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: Rgb, second: Rgb) -> float:
    darker, lighter = sorted((relative_luminance(first), relative_luminance(second)))
    return (lighter + 0.05) / (darker + 0.05)


def _rgb(color: Color | None, system: ColorSystem | None = None) -> Rgb:
    assert color is not None and color.triplet is not None, f"no truecolor: {color!r}"
    if system is not None:
        color = color.downgrade(system)
    triplet = color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


@dataclass(frozen=True)
class Shown:
    text: str
    foreground: Rgb
    background: Rgb

    @property
    def contrast(self) -> float:
        return contrast(self.foreground, self.background)


def shown(segments: Iterable[Segment], system: ColorSystem | None = None) -> list[Shown]:
    """Each segment with visible text, and the colours a terminal gives it.

    ``system``: the terminal's colours (``ColorSystem.EIGHT_BIT``), when not truecolor.
    """
    found = []
    for segment in segments:
        if not segment.text.strip() or segment.style is None:
            continue
        style = segment.style
        foreground, background = _rgb(style.color, system), _rgb(style.bgcolor, system)
        if style.reverse:
            foreground, background = background, foreground
        found.append(Shown(segment.text, foreground, background))
    return found


def _hex(value: str) -> Rgb:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def svg_words(svg: str) -> list[Shown]:
    """Each text run of a Rich SVG export (``App.export_screenshot``) and its colours.

    Rich draws a cell's background as a rect and its text as a text element in the same
    line; the rect under a text's start is its background.
    """
    import html
    import re

    fills = {name: _hex(colour) for name, colour in
             re.findall(r"\.(terminal-(?:\d+-)?r\d+) \{ fill: (#[0-9a-f]{6})", svg)}
    line_height = 24.4  # Rich's export: font size 20, line height 1.22
    backgrounds: dict[int, list[tuple[float, float, Rgb]]] = {}
    for colour, x, y, width in re.findall(
        r'<rect fill="(#[0-9a-f]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"', svg
    ):
        line = round((float(y) - 1.5) / line_height)
        backgrounds.setdefault(line, []).append((float(x), float(width), _hex(colour)))
    found = []
    for name, x, line, text in re.findall(
        r'<text class="(terminal-(?:\d+-)?r\d+)" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
        r'clip-path="url\(#terminal-(?:\d+-)?line-(\d+)\)">([^<]*)</text>', svg
    ):
        under = [colour for start, width, colour in backgrounds.get(int(line), [])
                 if start <= float(x) < start + width]
        if under and name in fills:
            found.append(Shown(html.unescape(text).replace("\xa0", " "), fills[name], under[0]))
    return found
