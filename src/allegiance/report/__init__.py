"""Reports: HTML, Markdown, JSON (and SARIF for code findings), all views of one model
built by :mod:`allegiance.analysis.model`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from allegiance.store.sqlite import Store

FORMATS = ("html", "md", "json", "sarif")


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity as None: ``json.dumps`` would write them as
    ``NaN``/``Infinity``, which is not JSON, and strict parsers (jq, JavaScript, Go) reject
    the whole report."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def render(model: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            json_safe(model), ensure_ascii=False, indent=2, default=str, allow_nan=False
        )
    if fmt == "md":
        from allegiance.report.markdown import render_markdown

        return render_markdown(model)
    if fmt == "html":
        from allegiance.report.html import render_html

        return render_html(model)
    if fmt == "sarif":
        from allegiance.report.sarif import render_sarif

        return render_sarif(model)
    raise ValueError(f"unknown report format {fmt!r}")


def write_reports(
    store: Store,
    run_ids: Sequence[str],
    out_dir: Path,
    formats: Sequence[str],
    *,
    model: dict[str, Any] | None = None,
) -> list[Path]:
    """Write each format into ``out_dir``; ``model`` saves building it again when the
    caller already has it."""
    from allegiance.analysis.model import build
    from allegiance.errors import ConfigError

    if model is None:
        model = build(store, run_ids)
    paths = []
    for fmt in formats:
        suffix = {"md": "md", "html": "html", "json": "json", "sarif": "sarif.json"}[fmt]
        path = out_dir / f"report.{suffix}"
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(render(model, fmt), encoding="utf-8")
        except OSError as error:  # the run is stored; only this report is lost
            raise ConfigError(
                f"cannot write report {path}: {error.strerror or error} "
                f"(the results are stored; `allegiance report` writes it again)"
            ) from error
        paths.append(path)
    return paths
