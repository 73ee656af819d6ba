"""Self-contained HTML: CSS and charts inline, no script, no external URL. Opening the
report makes no network request (a trust tool's report must not phone home). Jinja's
autoescape escapes every value; model output is shown as text only."""

from __future__ import annotations

import os
import shlex
from collections import defaultdict
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from allegiance import __version__
from allegiance.analysis.model import WRONG_ANSWERS_SHOWN, points, probability
from allegiance.report.charts import forest_plot, heat_colour
from allegiance.safe_text import visible_controls


def _visible(value: Any) -> Any:
    """Every text the template prints, with controls and bidirectional overrides shown as
    escapes (a U+202E in a target name would otherwise reverse the reproduce command as
    displayed); markup we built ourselves (the charts) is left as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible_controls(value, keep_direction_marks=True)
    return value


def _db_option(path: str | None) -> str:
    """`` --db PATH`` (absolute, shell-quoted) for a command shown in the report, or ""
    for an in-memory store."""
    if not path or path == ":memory:":
        return ""
    return " --db " + shlex.quote(os.path.abspath(path))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("allegiance.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible,
    )
    env.filters["heat"] = heat_colour
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.0f} %"
    env.filters["short"] = lambda s, n=12: (s or "")[:n]
    env.filters["points"] = points
    env.filters["probability"] = probability
    env.filters["db_option"] = _db_option
    return env


def heatmaps(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Rate tables pivoted to rows = values, columns = targets."""
    out = []
    for table in model["rates"]:
        targets = sorted({c["target"] for c in table["cells"]})
        grid: dict[str, dict[str, Any]] = defaultdict(dict)
        for cell in table["cells"]:
            grid[f"{cell['suite']} · {cell['value']}"][cell["target"]] = cell
        out.append(
            {
                "detector": table["detector"],
                "dimension": table["dimension"],
                "targets": targets,
                "rows": sorted(grid.items()),
            }
        )
    return out


def render_html(model: dict[str, Any]) -> str:
    template = _environment().get_template("report.html.j2")
    plotted = [c for c in model["comparisons"] if c["finding"]][:40] or model["comparisons"][:25]
    return template.render(
        model=model,
        version=__version__,
        heatmaps=heatmaps(model),
        forest=forest_plot(plotted),
        plotted_count=len(plotted),
        wrong_answers_shown=WRONG_ANSWERS_SHOWN,
    )
