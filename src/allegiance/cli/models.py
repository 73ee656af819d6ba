"""`allegiance models`"""

from __future__ import annotations

import json
from pathlib import Path

import click

from allegiance.cli.common import (
    config_option,
    db_option,
    json_terminal_safe,
    open_store,
    terminal_safe,
)


@click.command("models")
@click.option("--verify", is_flag=True, help="Assemble and re-hash the embedded models now.")
@config_option
@db_option
def command(verify: bool, config_path: str | None, db_path: str) -> None:
    """List embedded models, configured targets and targets seen in the database."""
    from allegiance.config import load_config
    from allegiance.errors import AllegianceError, StoreError
    from allegiance.targets.embedded import (
        CATALOGUE,
        DEFAULT_MODEL,
        ensure_model,
        part_paths,
        scan_summary,
        verified_path,
    )

    config = load_config(config_path)  # a bad config is an error before any output
    click.echo("embedded models (local:NAME):")
    for name, model in CATALOGUE.items():
        try:
            path = ensure_model(name, reverify=True) if verify else verified_path(name)
            if path is not None:
                status = f"verified: size and sha256 match, {path}"
            else:
                part_paths(model)
                status = "installed; verified and scanned on first use"
        except AllegianceError as error:
            status = str(error)
        marker = " (default)" if name == DEFAULT_MODEL else ""
        click.echo(
            f"  {name}{marker}: {model.title}, {model.origin}, {model.licence}, "
            f"{model.size:,} bytes, sha256 {model.sha256}"
        )
        click.echo(f"      {status}")
        summary = scan_summary(name)
        if summary:
            click.echo(f"      {summary}")
    if config.targets:
        click.echo(f"configured targets ({config.source}):")
        for name, entry in config.targets.items():
            key = f", key from ${entry.api_key_env}" if entry.api_key_env else ""
            click.echo(terminal_safe(f"  {name}: {entry.model}{key}"))
    try:
        with open_store(db_path, create=False) as store:  # listing must not create a db
            seen = store.targets()
    except StoreError as error:
        if Path(db_path).exists():  # a database that is there but unreadable is worth a word
            click.echo(f"allegiance: warning: targets recorded in {db_path}: {error}", err=True)
        seen = []
    except AllegianceError:
        seen = []
    if seen:
        click.echo(f"targets recorded in {db_path}:")
        for t in seen:
            identity = json_terminal_safe(json.dumps(t["identity"], ensure_ascii=False))
            click.echo(f"  {terminal_safe(t['name'])} [{t['target_id']}]: {identity}")
