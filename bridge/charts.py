"""Charts drawn on the server as inline SVG: no JavaScript, nothing the CSP forbids.

`line_chart` draws one or more series over the same labelled days with presentation
attributes only (`fill`, `stroke`, …; the CSP allows no inline `style`), a legend, the
axis's lowest and highest values, and a `<title>` on each point so a pointer shows the
exact figure. Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 16, 56


@dataclass(frozen=True)
class Series:
    label: str
    colour: str  # an SVG colour such as #36c
    values: Sequence[int]


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[int], str] = str,
) -> Markup:
    values = [v for s in series for v in s.values]
    low = min([0, *values])
    high = max([1, *values])
    if high == low:
        high = low + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: int) -> float:
        return TOP + (high - v) / (high - low) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="ats-chart">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#f8f9fa" '
        'stroke="#c8ccd1"/>',
    ]
    for value in sorted({low, 0, high}):
        parts.append(
            f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" '
            f'stroke="{"#72777d" if value == 0 else "#c8ccd1"}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#54595d">{escape(fmt(value))}</text>'
        )
    for i, label in enumerate(labels):
        if i in (0, len(labels) - 1) or i % 3 == 0:
            anchor = "end" if i == len(labels) - 1 and i else "middle"
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="{anchor}" '
                f'font-size="11" fill="#54595d">{escape(label)}</text>'
            )
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{escape(s.colour)}" '
            'stroke-width="2"/>'
        )
        for i, v in enumerate(s.values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{escape(s.colour)}">'
                f"<title>{escape(s.label)}, {escape(labels[i])}: {escape(fmt(v))}</title></circle>"
            )
    for n, s in enumerate(series):
        lx = LEFT + n * 130
        ly = HEIGHT - 14
        parts.append(
            f'<rect x="{lx}" y="{ly - 9}" width="12" height="12" fill="{escape(s.colour)}"/>'
            f'<text x="{lx + 18}" y="{ly + 1}" font-size="12" fill="#202122">'
            f"{escape(s.label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 — every text above is escaped
