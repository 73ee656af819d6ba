"""Inline SVG charts. Every label passes through markupsafe.escape: model output and suite
text are untrusted and must never become markup."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape


def heat_colour(rate: float | None) -> str:
    """White (0 %) to deep red (100 %)."""
    if rate is None or math.isnan(rate):
        return "#f2f2f2"
    r = 255
    g = int(245 - 180 * rate)
    b = int(240 - 200 * rate)
    return f"rgb({r},{g},{b})"


# Labels longer than this are cut so they never run into the plot (11 px sans-serif).
LABEL_CHARS = 84


def forest_plot(rows: Sequence[dict[str, Any]], *, width: int = 1040) -> Markup:
    """Differences with intervals, one row each; zero marked; findings in red."""
    if not rows:
        return Markup("")
    label_w, row_h, pad = 520, 22, 30
    plot_w = width - label_w - 20
    height = pad * 2 + row_h * len(rows)

    def x(value: float) -> float:
        return label_w + (max(-1.0, min(1.0, value)) + 1) / 2 * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="forest plot of differences">',
        f'<line x1="{x(0):.1f}" y1="{pad - 8}" x2="{x(0):.1f}" y2="{height - pad + 8}" stroke="#888" stroke-dasharray="3,3"/>',
    ]
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{height - 8}" font-size="10" text-anchor="middle">{tick * 100:+.0f}</text>'
        )
    for i, row in enumerate(rows):
        y = pad + i * row_h + row_h / 2
        colour = "#c0392b" if row.get("finding") else "#34495e"
        # the 95 % interval, as the table beside the plot shows: drawing the FDR-adjusted one
        # for every row made some non-findings look significant
        low, high = row["low"], row["high"]
        if any(
            v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high, row["diff"])
        ):
            continue
        text = (
            f"{row['a']} vs {row['b']} ({row['detector']}, {row['suite']})"
            if row.get("kind") == "target"
            else f"{row['target']} · {row['a']} vs {row['b']} ({row['detector']})"
        )
        label = escape(text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…")
        parts.append(f'<text x="4" y="{y + 4:.1f}" font-size="11">{label}</text>')
        parts.append(
            f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<circle cx="{x(row["diff"]):.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
    parts.append("</svg>")
    # Safe: every text label above went through escape(); the rest is numbers we formatted.
    return Markup("".join(parts))  # noqa: S704
