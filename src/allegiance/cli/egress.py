"""``allegiance egress -- COMMAND...``: run a command with no network, list what it tried."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from allegiance.cli.common import FiniteFloatRange
from allegiance.errors import ConfigError

EPILOG = """\b
Exit codes:
  0  only loopback was attempted (the command's own exit code does not matter)
  1  something beyond loopback was attempted (an address, a DNS lookup, a
     vsock, or a setns() into another network namespace)
  2  the command could not be run in isolation: no command given, command
     not found, strace missing, or no way to create a network namespace
     (needs root or unprivileged user namespaces)

\b
Example:
  allegiance egress -- python -c "import urllib.request as u; u.urlopen('http://example.com')"
  allegiance egress --format json --out egress.json -- ./run-model.sh
"""


@click.command(
    "egress",
    epilog=EPILOG,
    context_settings={"allow_interspersed_args": False},
    short_help="Run a command with no network and record what it tried.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report to FILE instead of stdout (the command's own output "
    "then stays on stdout).",
)
@click.option(
    "--timeout",
    type=FiniteFloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Kill the command and everything it started after this long.",
)
@click.option(
    "--isolation",
    type=click.Choice(["auto", "userns", "root"]),
    default="auto",
    show_default=True,
    help="userns: user+network+PID namespaces (no host privileges); root: "
    "network+PID namespaces as root with dangerous capabilities dropped; "
    "auto: userns if the kernel allows it, else root.",
)
@click.option(
    "--trace-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep strace's raw log at this path.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def command(
    fmt: str,
    out: Path | None,
    timeout: float | None,
    isolation: str,
    trace_file: Path | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND in fresh namespaces whose only network is loopback, so nothing it
    does can leave the machine, while strace records every connect, send and DNS
    lookup of it and all its children. Then list each destination it tried.

    Put `--` before COMMAND. The command's stdin, stdout and stderr pass through (with
    `--format json` and no `--out`, its stdout goes to stderr, so stdout is only the JSON).
    """
    from allegiance.sandbox.egress import run_isolated
    from allegiance.sandbox.render import render_table

    if not command:
        raise ConfigError(
            "no command given; usage: allegiance egress [OPTIONS] -- COMMAND [ARGS]..."
        )
    # JSON on stdout must stay parseable: the command's own output then goes to stderr
    child_stdout = sys.stderr if fmt == "json" and out is None else None
    # --out is opened before the command runs: a missing folder is found before the command
    # has run for nothing, and a command that replaces the path cannot suppress the report
    try:
        # "a": an earlier report stays whole if the command cannot even start
        report_file = out.open("a", encoding="utf-8") if out is not None else None
    except OSError as error:
        raise ConfigError(f"cannot write {out}: {error.strerror or error}") from error
    try:
        result = run_isolated(
            list(command),
            timeout=timeout,
            isolation=isolation,
            trace_file=trace_file,
            stdout=child_stdout,
        )
        report = result.to_json() + "\n" if fmt == "json" else render_table(result)
        if report_file is not None:
            report_file.seek(0)
            report_file.truncate()
            report_file.write(report)
    finally:
        if report_file is not None:
            report_file.close()
    if out is not None:
        click.echo(
            f"allegiance egress: report written to {out} "
            f"({len(result.outside_attempts)} beyond loopback)",
            err=True,
        )
    else:
        click.echo(report, nl=False)
    raise SystemExit(result.verdict_exit_code)
