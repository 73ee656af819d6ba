"""`allegiance runs`"""

from __future__ import annotations

import click

from allegiance.cli.common import db_option, open_store, terminal_safe
from allegiance.store.sqlite import runner_gone


@click.command("runs")
@db_option
def command(db_path: str) -> None:
    """List stored runs."""
    with open_store(db_path, create=False) as store:
        runs = store.list_runs()
    if not runs:
        click.echo(f"no runs in {db_path}")
        return
    # attempts stored, of those planned (an interrupted run planned more than it asked)
    click.echo(f"{'run':<32} {'status':<22} {'attempts':>11} {'errors':>6}  created")
    for run in runs:
        status = run["status"]
        if status == "running" and runner_gone(run["settings"].get("runner")):
            status = "stopped (killed?)"  # `kill -9` leaves no chance to say interrupted
        click.echo(
            terminal_safe(
                f"{run['run_id']:<32} {status:<22} {_attempts(run):>11} {run['errors']:>6}  "
                f"{run['created_at']}"
            )
        )


def _attempts(run: dict[str, object]) -> str:
    stored, planned = run["stored"], run["n"]
    return str(stored) if stored == planned else f"{stored} of {planned}"
