"""`allegiance repro ATTEMPT`: send the exact recorded request again."""

from __future__ import annotations

import click

from allegiance.cli.common import config_option, db_option, open_store, terminal_safe


@click.command("repro")
@click.argument("attempt_id")
@click.option("--times", default=3, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--api-key-env",
    default=None,
    help="Environment variable with the API key (default: the one the attempt's run used).",
)
@config_option
@db_option
def command(
    attempt_id: str, times: int, api_key_env: str | None, config_path: str | None, db_path: str
) -> None:
    """Send ATTEMPT's exact recorded request TIMES times and report how often each recorded
    verdict recurs. The results are stored (table `repros`)."""
    from allegiance.config import load_config
    from allegiance.engine.repro import reproduce

    config = load_config(config_path)
    with open_store(db_path, create=False, looking_for=f"attempt {attempt_id!r}") as store:
        result = reproduce(store, attempt_id, times, config, api_key_env=api_key_env)
    if result.errors and len(result.errors) >= times:
        from allegiance.errors import TargetError

        # the error text quotes the server's answer: untrusted
        raise TargetError(
            f"all {times} request(s) for attempt {result.attempt_id[:12]} failed: "
            f"{terminal_safe(result.errors[0])}"
        )
    if not result.request_matches:
        click.echo(
            "warning: the stored request no longer hashes to this attempt's id (edited after "
            "it was recorded, or recorded by an older allegiance): the answers below are to "
            "the request as it is stored now",
            err=True,
        )
    if result.served_changed:
        click.echo(
            "warning: the server now reports a different model than for the recorded answer ("
            + terminal_safe("; ".join(result.served_changed))
            + "): a difference below may be the model's, not chance",
            err=True,
        )
    if result.identity_changed:
        click.echo(
            "warning: the target's identity differs from the recorded one "
            "(different weights, runtime or endpoint)",
            err=True,
        )
    click.echo(
        f"attempt {result.attempt_id[:12]} on {terminal_safe(result.target)}: "
        f"{times - len(result.errors)} new answer(s), "
        f"{result.identical} identical to the recorded answer"
    )
    for detector, (recorded, labels) in result.labels.items():
        recurred = sum(1 for label in labels if label == recorded)
        click.echo(
            f"  {detector}: recorded '{terminal_safe(str(recorded))}', recurred "
            f"{recurred}/{len(labels)} ({terminal_safe(', '.join(map(str, labels)))})"
        )
    if result.errors:
        # the error text quotes the server's answer: untrusted
        first = terminal_safe(result.errors[0])
        click.echo(f"  {len(result.errors)} request(s) failed: {first}", err=True)
