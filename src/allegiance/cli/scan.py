"""``allegiance scan PATH...``: the model-file trust scan.

Exit codes (documented in ``--help`` and the README): 0 clean, 1 a finding at or above
``--fail-on``, 2 a file could not be scanned (and no such finding).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from allegiance.errors import ConfigError

SEVERITIES = ["info", "low", "medium", "high", "critical"]


@click.command(name="scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "sarif"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default="medium",
    show_default=True,
    help="Lowest severity that makes the exit code 1.",
)
@click.option(
    "--min-severity",
    type=click.Choice(SEVERITIES),
    default="info",
    show_default=True,
    help="Hide findings below this severity in the table.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the report to this file instead of standard output.",
)
def command(
    paths: tuple[Path, ...], fmt: str, fail_on: str, min_severity: str, output: Path | None
) -> None:
    """Scan model files and folders for code execution and hidden behaviour.

    Reads pickles (raw, PyTorch zip and legacy, joblib, NumPy object arrays), safetensors,
    GGUF (including the chat template) and Hugging Face folders (auto_map remote code,
    tokenizer chat templates). Nothing is unpickled, imported, rendered or executed.

    \b
    Exit codes:
      0  no finding at or above --fail-on, every file scanned
      1  at least one finding at or above --fail-on
      2  a file could not be scanned (truncated, garbled, over a limit), or no model
         file was found to scan, and no such finding
    """
    from allegiance.artifacts import Severity, scan_paths
    from allegiance.artifacts.render import render_json, render_sarif, render_table
    from allegiance.cli.common import refuse_overwrite

    refuse_overwrite(output, paths, "the scanned path", option="--output")
    threshold = Severity.parse(fail_on)
    report = scan_paths(list(paths))
    if fmt == "json":
        text = render_json(report)
    elif fmt == "sarif":
        text = render_sarif(report)
    else:
        text = render_table(report, threshold, Severity.parse(min_severity))
    if output is not None:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"cannot write report to {output}: {error.strerror}") from None
        click.echo(report.summary(threshold), err=True)
    else:
        click.echo(text)
    sys.exit(report.exit_code(threshold))
