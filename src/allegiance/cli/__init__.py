"""The `allegiance` command line.

Each command lives in its own module and is imported only when it is invoked, so
``allegiance --help`` does not pay for httpx, pydantic, scipy or a model runtime. Commands
are thin: parse, call the library, print. User errors are :class:`AllegianceError` and end
as one line on stderr with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys
from typing import Any

import click

from allegiance import __version__
from allegiance.errors import AllegianceError
from allegiance.safe_text import visible_controls

# command name -> (module, one-line help shown by `allegiance --help` without importing it)
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": (
        "allegiance.cli.audit",
        "Run the default audit on the default targets and write a report.",
    ),
    "run": ("allegiance.cli.run", "Run suites against targets and store every attempt."),
    "report": ("allegiance.cli.report", "Write a run's report (html, md, json, sarif)."),
    "compare": ("allegiance.cli.compare", "Compare several runs or targets in one report."),
    "runs": ("allegiance.cli.runs", "List stored runs."),
    "show": ("allegiance.cli.show", "Show one attempt, whole."),
    "repro": (
        "allegiance.cli.repro",
        "Send a recorded request again and check the verdict recurs.",
    ),
    "models": ("allegiance.cli.models", "List targets and their identities."),
    "suites": ("allegiance.cli.suites", "List built-in suites."),
    "judge": (
        "allegiance.cli.judge",
        "Apply a detector to prompt/response records (JSONL or CSV).",
    ),
    "plan": ("allegiance.cli.plan", "Samples needed to detect a difference with given power."),
    "scan": ("allegiance.cli.scan", "Scan model files for code execution and hidden behaviour."),
    "egress": ("allegiance.cli.egress", "Run a command with no network and record what it tried."),
}


class OutputClosed(Exception):
    """The reader of our standard output went away (``allegiance models | head -1``).

    Not an OSError, so click's own handler (exit 1, as if something had failed) lets it
    through to :func:`main`, which ends the way ``yes | head -1`` does."""


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command runs."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as error:
            if _stdout_closed():
                raise OutputClosed() from error
            raise  # a pipe to a child process, say: not ours to hide

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="allegiance")
def cli() -> None:
    """Whose side is this model on? Reproducible audits of AI models.

    Every question is a recorded experiment in a SQLite store; every claim is a rate with
    a confidence interval next to a control, and every finding can be re-run.
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning user errors into one line and an exit code."""
    try:
        return cli.main(args=argv, standalone_mode=False)
    except AllegianceError as error:
        click.echo(f"allegiance: error: {visible_controls(str(error))}", err=True)
        sys.exit(error.exit_code)
    except sqlite3.OperationalError as error:
        # locked by another program, a full disk, an I/O error: the database may be fine
        click.echo(f"allegiance: error: the results database could not be used ({error})", err=True)
        sys.exit(2)
    except sqlite3.DatabaseError as error:
        # only the results database is SQLite: garbled pages inside a file that opened
        click.echo(
            f"allegiance: error: the results database is damaged or unreadable ({error})",
            err=True,
        )
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("allegiance: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("allegiance: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as error:
        # `allegiance` alone: the help page, as before (it is not an error)
        click.echo(error.ctx.get_help() if error.ctx is not None else str(error))
        sys.exit(0)
    except click.UsageError as error:
        # one line, like every other user error (click's own format takes three)
        where = error.ctx.command_path if error.ctx is not None else "allegiance"
        click.echo(
            f"allegiance: error: {visible_controls(error.format_message())} (see '{where} --help')",
            err=True,
        )
        sys.exit(error.exit_code)
    except click.ClickException as error:
        click.echo(f"allegiance: error: {visible_controls(error.format_message())}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except OutputClosed:
        _silence_stdout()
        # 128 + SIGPIPE: what a shell reports for a writer whose reader left early
        sys.exit(141)


def _stdout_closed() -> bool:
    """Whether our standard output is a pipe whose reader has gone (poll says POLLERR)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so the interpreter's last flush of what is
    still buffered cannot fail again on the way out (and print "Exception ignored")."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
