"""Options and helpers shared by several commands."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "allegiance.db"
DEFAULT_OUT = "allegiance-out"


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


def open_store(db_path: str) -> Any:
    from allegiance.store.sqlite import Store

    return Store.open(db_path)
