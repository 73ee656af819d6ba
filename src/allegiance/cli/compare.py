"""`allegiance compare RUN...`"""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from allegiance.cli.common import (
    DEFAULT_OUT,
    db_option,
    open_store,
    refuse_overwrite,
    write_output,
)


@click.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["html", "md", "json"]), default="html", show_default=True
)
@click.option("--out", "out_path", default=None, help="Output file (default: stdout for md/json).")
@db_option
def command(run_ids: tuple[str, ...], fmt: str, out_path: str | None, db_path: str) -> None:
    """One report over several runs (e.g. two targets, or a base model and its fine-tune).

    Rates are shown side by side per target; symmetry, language and context comparisons
    and their FDR control run over all runs together.
    """
    from allegiance.analysis.model import build
    from allegiance.report import render

    refuse_overwrite(out_path, [db_path], "the results database")
    with open_store(db_path, create=False, looking_for=f"run {run_ids[0]!r}") as store:
        model = build(store, list(run_ids))
    text = render(model, fmt)
    if out_path is None and fmt == "html":
        # the resolved ids ("latest" becomes the run it names), each run once
        ids = [run["run_id"] for run in model["runs"]]
        names = "-".join(run_id[-9:] for run_id in ids)
        if len(names) > 60:
            # many runs: a folder name has a length limit, and cut names could collide
            digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
            names = f"{len(ids)}-runs-{digest}"
        out_path = str(Path(DEFAULT_OUT) / f"compare-{names}" / "report.html")
    write_output(text, out_path, fmt)
