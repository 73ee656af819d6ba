"""Reports: HTML, Markdown, JSON (and SARIF for code findings), all views of one model
built by :mod:`allegiance.analysis.model`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from allegiance.store.sqlite import Store

FORMATS = ("html", "md", "json", "sarif")


def render(model: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(model, ensure_ascii=False, indent=2, default=str)
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
    store: Store, run_ids: Sequence[str], out_dir: Path, formats: Sequence[str]
) -> list[Path]:
    from allegiance.analysis.model import build

    model = build(store, run_ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        suffix = {"md": "md", "html": "html", "json": "json", "sarif": "sarif.json"}[fmt]
        path = out_dir / f"report.{suffix}"
        path.write_text(render(model, fmt), encoding="utf-8")
        paths.append(path)
    return paths
