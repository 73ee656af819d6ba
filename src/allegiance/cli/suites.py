"""`allegiance suites`"""

from __future__ import annotations

import click


@click.command("suites")
@click.argument("name", required=False)
def command(name: str | None) -> None:
    """List built-in suites, or list the probes of one suite (name or file)."""
    from allegiance.cli.common import terminal_safe
    from allegiance.suites.loader import builtin_suites, load_suite

    if name:
        suite = load_suite(name)
        click.echo(
            terminal_safe(
                f"{suite.name} v{suite.version}: {len(suite.probes)} probes, "
                f"{len(suite.quick_slice().probes)} in the quick slice"
            )
        )
        for probe in suite.probes:
            tags = " ".join(f"{k}={v}" for k, v in probe.tags.items() if k != "probe")
            click.echo(terminal_safe(f"  {probe.id}  [{tags}]"))
        return
    for suite_name in builtin_suites():
        suite = load_suite(suite_name)
        first = suite.description.split(". ")[0]
        if len(first) > 90:  # cut, and shown to be cut
            first = first[:89].rstrip(" ,;:") + "…"
        click.echo(
            f"{suite.name:<12} {len(suite.probes):>5} probes  {len(suite.quick_slice().probes):>4} quick  {first}"
        )
