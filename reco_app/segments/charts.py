"""Tiny inline SVG charts for the admin (no JavaScript, no chart library)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html


def sparkline(values: Sequence[float], width: int = 120, height: int = 24, title: str = "") -> str:
    if not values:
        return "–"
    top = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values))
    return format_html(
        '<svg width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>'
        '<polyline fill="none" stroke="#417690" stroke-width="1.5" points="{}"/></svg>',
        width, height, width, height, title, title, points,
    )
