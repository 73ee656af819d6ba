"""`allegiance report RUN`"""

from __future__ import annotations

from pathlib import Path

import click

from allegiance.cli.common import (
    DEFAULT_OUT,
    db_option,
    open_store,
    refuse_overwrite,
    write_output,
)


@click.command("report")
@click.argument("run_id", default="latest")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "json", "sarif"]),
    default="html",
    show_default=True,
)
@click.option(
    "--out",
    "out_path",
    default=None,
    help="Write to this file (default: stdout for md/json/sarif, "
    "allegiance-out/RUN/report.html for html).",
)
@db_option
def command(run_id: str, fmt: str, out_path: str | None, db_path: str) -> None:
    """Write the report of RUN (default: the latest run)."""
    from allegiance.analysis.model import build
    from allegiance.report import render

    refuse_overwrite(out_path, [db_path], "the results database")
    with open_store(db_path, create=False, looking_for=f"run {run_id!r}") as store:
        run = store.get_run(run_id)
        text = render(build(store, [run["run_id"]]), fmt)
    if out_path is None and fmt == "html":
        out_path = str(Path(DEFAULT_OUT) / run["run_id"] / "report.html")
    write_output(text, out_path, fmt)
