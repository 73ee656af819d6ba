"""`allegiance audit`: the main job."""

from __future__ import annotations

from typing import Any

import click

from allegiance.cli.run import execute_run, run_options

DEFAULT_SUITES = ("censorship", "symmetry", "facts", "sabotage")
DEFAULT_TARGETS = ("local:qwen2.5-coder-0.5b", "local:smollm2-135m")


@click.command("audit")
@click.option(
    "--suite",
    "-s",
    "suites",
    multiple=True,
    default=DEFAULT_SUITES,
    show_default=True,
    help="Suites to run (repeatable).",
)
@click.option(
    "--target",
    "-t",
    "targets",
    multiple=True,
    default=DEFAULT_TARGETS,
    show_default=True,
    help="Targets to audit (repeatable). Default: the embedded Qwen (China) and SmolLM2 "
    "(US/EU) models, offline.",
)
@run_options
def command(suites: tuple[str, ...], targets: tuple[str, ...], **options: Any) -> None:
    """Audit models for censorship, double standards and coding sabotage.

    Runs the default suites against the default targets, stores every attempt and writes
    the report. --quick runs each suite's quick slice with short answers (under 3 minutes
    on a 2-core laptop with the embedded models).
    """
    options["extra_settings"] = {"audit": True}  # execute_run records "quick" for any run
    execute_run(list(suites), list(targets), options)
