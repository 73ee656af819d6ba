"""`--isolate` for `run` and `audit`: run the same command again inside the egress sandbox
(a network namespace with only loopback, every connection attempt traced), then store what
it tried next to the run and re-render the run's report, which then states "no outbound
connection attempted" as a checked fact, or lists what was attempted.

Only in-process targets make sense here: the sandbox has its own loopback, so a model server
on the host's 127.0.0.1 is out of reach by design.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click

ISOLATED_ENV = "ALLEGIANCE_ISOLATED"


def _strip_isolate(argv: list[str]) -> list[str]:
    return [arg for arg in argv if arg != "--isolate"]


def _option_value(argv: list[str], name: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def refuse_remote_targets(targets: list[str], config_path: str | None) -> None:
    """An HTTP target cannot be reached from inside the sandbox (not even one on the host's
    127.0.0.1: the sandbox has a loopback of its own); say so before the run, instead of a
    "connection refused" from a server that is up."""
    from allegiance.config import load_config
    from allegiance.errors import ConfigError

    config = load_config(config_path)
    for spec in targets:
        entry = config.targets.get(spec)
        model = entry.model if entry is not None else spec
        if model.startswith("openai:"):
            raise ConfigError(
                f"--isolate runs the model inside a network namespace with only its own "
                f"loopback, so the HTTP target {spec!r} cannot be reached from there; use "
                "--isolate with local: targets (and a local: judge), and `allegiance egress "
                "-- SERVER COMMAND` to check a model server"
            )


def reexec_isolated() -> NoReturn:
    """Re-run this command inside the sandbox and record the egress check. Never returns."""
    from allegiance.engine.session import new_run_id
    from allegiance.errors import ConfigError
    from allegiance.report import write_reports
    from allegiance.sandbox.egress import run_isolated
    from allegiance.sandbox.record import isolation_coverage, merged_isolation
    from allegiance.store.sqlite import Store

    if os.environ.get(ISOLATED_ENV):
        raise ConfigError("already inside an isolated run")
    args = _strip_isolate(sys.argv[1:])
    run_id = _option_value(args, "--run-id")
    if run_id is None:
        run_id = new_run_id()
        args += ["--run-id", run_id]
    db_path = _option_value(args, "--db") or os.environ.get("ALLEGIANCE_DB", "allegiance.db")
    out_dir = _option_value(args, "--out") or "allegiance-out"
    if Path(db_path).is_file():
        with Store.open(db_path) as store:
            try:
                earlier = store.get_run(run_id)
            except Exception:  # a new run: what we want
                earlier = None
            isolated = earlier is not None and (
                earlier.get("isolation") or earlier["settings"].get("isolated")
            )
            if earlier is not None and not isolated:
                # its earlier answers were made without isolation; the check would vouch for them
                raise ConfigError(
                    f"run {run_id} already has answers made without --isolate; "
                    "give a new --run-id to run isolated"
                )
    env = {**os.environ, ISOLATED_ENV: "1"}
    click.echo(f"isolating: run {run_id} in a network namespace with only loopback", err=True)
    answered_before: set[str] = set()
    if Path(db_path).is_file():
        with Store.open(db_path) as store:
            answered_before = store.answered_ids()
    result = run_isolated([sys.executable, "-m", "allegiance", *args], env=env, cwd=os.getcwd())
    with Store.open(db_path) as store:
        try:
            earlier_record = store.get_run(run_id).get("isolation") or {}
        except Exception:  # the run never started (bad input inside): nothing to annotate
            sys.exit(result.exit_code or 2)
        made, answered = store.answers_made_after(run_id, answered_before)
        record = merged_isolation(earlier_record, result.to_dict(), made, answered)
        store.set_isolation(run_id, record)
        if "--no-report" not in args:
            write_reports(store, [run_id], Path(out_dir) / run_id, ["html", "md", "json"])
    outside = result.outside_attempts
    if outside:
        click.echo(f"egress: {len(outside)} outbound connection attempt(s) recorded:", err=True)
        for attempt in outside[:10]:
            click.echo(f"  {attempt.destination} ({attempt.kind}, {attempt.result})", err=True)
        sys.exit(1)
    click.echo(
        f"egress: no outbound connection attempted ({isolation_coverage(record)}). "
        f"How: {result.method}",
        err=True,
    )
    sys.exit(result.exit_code)
