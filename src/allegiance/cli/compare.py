"""`allegiance compare RUN...`"""

from __future__ import annotations

from pathlib import Path

import click

from allegiance.cli.common import db_option, open_store


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

    with open_store(db_path) as store:
        text = render(build(store, list(run_ids)), fmt)
    if out_path is None and fmt == "html":
        out_path = str(
            Path("allegiance-out")
            / ("compare-" + "-".join(r[-9:] for r in run_ids))
            / "report.html"
        )
    if out_path is None:
        click.echo(text, nl=False)
        return
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(text, encoding="utf-8")
    click.echo(f"report: {out_path}")
