"""Options and helpers shared by several commands."""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from allegiance.safe_text import json_visible_controls as json_terminal_safe
from allegiance.safe_text import visible_controls as terminal_safe

if TYPE_CHECKING:
    from allegiance.store.sqlite import Store

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "allegiance.db"
DEFAULT_OUT = "allegiance-out"

# A run id names a report folder (OUT/RUN_ID/) and is typed back by people: no path
# separators, no spaces, no control characters.
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def db_option(fn: F) -> F:
    return click.option(
        "--db",
        "db_path",
        default=lambda: os.environ.get("ALLEGIANCE_DB", DEFAULT_DB),
        show_default="allegiance.db or $ALLEGIANCE_DB",
        help="SQLite results database.",
    )(fn)


def config_option(fn: F) -> F:
    return click.option(
        "--config",
        "config_path",
        default=None,
        help="Config file with named targets (default: ./allegiance.yaml if present).",
    )(fn)


def check_run_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """click callback for ``--run-id``."""
    if value is not None and not RUN_ID_RE.match(value):
        raise click.BadParameter(
            "use up to 100 letters, digits, '.', '_' or '-' (it names the report folder)"
        )
    if value is not None and value.casefold() == "latest":
        # `report`, `compare` and `show` read "latest" as the newest run
        raise click.BadParameter("'latest' is reserved for the newest run; choose another id")
    return value


def open_store(db_path: str, *, create: bool = True, looking_for: str | None = None) -> Store:
    """The results database. Commands that only read pass ``create=False`` (a mistyped
    ``--db`` must not leave an empty database behind) and say what they were looking for,
    so the error answers the question asked: "no run 'x' in r.db: …"."""
    from allegiance.errors import StoreError
    from allegiance.store.sqlite import Store

    if not create and looking_for and not Path(db_path).exists():
        raise StoreError(
            f"no {looking_for} in {db_path}: there is no such database "
            "(give --db or $ALLEGIANCE_DB, or create one with `allegiance run`)"
        )
    store = Store.open(db_path, create=create)
    if store.copied:
        click.echo(
            f"note: {db_path} cannot be written; reading a copy, so nothing new is saved",
            err=True,
        )
    return store


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange lets ``nan`` through (every comparison with it is false), and a NaN
    temperature or timeout then reaches a request as invalid JSON or silently disables a
    limit. This one wants an ordinary number."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def refuse_overwrite(
    out_path: str | Path | None,
    protected: Iterable[str | Path],
    what: str,
    option: str = "--out",
) -> None:
    """Stop before an output file would replace an input: ``report --out`` onto the
    results database destroys every run in it, ``scan -o`` onto a model file the model.
    A protected folder covers the files already inside it."""
    from allegiance.errors import ConfigError

    if out_path is None or str(out_path) == "-":
        return
    out = Path(out_path).resolve()
    for item in protected:
        if str(item) == ":memory:":
            continue
        guarded = Path(item).resolve()
        sidecars = {guarded, Path(f"{guarded}-wal"), Path(f"{guarded}-shm")}
        inside = guarded.is_dir() and out.is_relative_to(guarded) and out.exists()
        if out in sidecars or inside:
            raise ConfigError(
                f"{option} {out_path} would overwrite {what} {item}; choose another file"
            )


def write_output(text: str, out_path: str | None, fmt: str) -> None:
    """A report to ``out_path``, or to stdout when there is none. On a terminal, the text
    is made inert first (the Markdown report quotes model answers verbatim)."""
    from allegiance.errors import ConfigError

    if out_path is None:
        if sys.stdout.isatty():
            text = json_terminal_safe(text) if fmt in ("json", "sarif") else terminal_safe(text)
        click.echo(text, nl=False)
        return
    path = Path(out_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from error
    click.echo(f"report: {path}")
