"""`allegiance plan`: how many samples a given difference needs."""

from __future__ import annotations

import click

from allegiance.cli.common import FiniteFloatRange


@click.command("plan")
@click.option(
    "--p1", type=FiniteFloatRange(0, 1), default=None, help="Expected rate under the control."
)
@click.option(
    "--p2", type=FiniteFloatRange(0, 1), default=None, help="Rate you want to be able to detect."
)
@click.option("--power", type=FiniteFloatRange(0.5, 0.999), default=0.8, show_default=True)
@click.option("--alpha", type=FiniteFloatRange(0.0001, 0.5), default=0.05, show_default=True)
@click.option(
    "--comparisons",
    type=click.IntRange(1, 100000),
    default=1,
    show_default=True,
    help="Comparisons in the report; alpha is divided by it (a conservative stand-in for "
    "the FDR control the report applies).",
)
@click.option(
    "--probes",
    type=click.IntRange(1, 100000),
    default=None,
    help="Probes per arm (e.g. tasks in a context); samples per probe are then printed.",
)
def command(
    p1: float | None,
    p2: float | None,
    power: float,
    alpha: float,
    comparisons: int,
    probes: int | None,
) -> None:
    """Samples per arm to detect a change from P1 to P2 (two-sided test of two proportions).

    Without --p1/--p2, prints a table for typical effects, including the published
    19 % → 27.2 % rise in severe vulnerabilities under a Tibet context.
    """
    from allegiance.analysis.stats import EXACT_POWER_LIMIT, samples_needed

    level = alpha / comparisons
    pairs = (
        [(p1, p2)]
        if p1 is not None and p2 is not None
        else [(0.19, 0.272), (0.05, 0.15), (0.10, 0.30), (0.08, 0.64), (0.20, 0.40), (0.50, 0.60)]
    )
    if (p1 is None) != (p2 is None):
        raise click.UsageError("give both --p1 and --p2, or neither for the table")
    if p1 is not None and p1 == p2:
        raise click.UsageError("--p1 and --p2 must differ")
    click.echo(f"two-sided, alpha {level:.4g}, power {power * 100:.4g}%")
    click.echo(
        f"{'control':>8} {'trigger':>8} {'per arm':>8}" + (f" {'per probe':>10}" if probes else "")
    )
    approximate = False
    for a, b in pairs:
        assert a is not None and b is not None
        n = samples_needed(a, b, power=power, alpha=level)
        per_probe = f" {-(-n // probes):>10}" if probes else ""
        digits = 1  # enough decimals that two close rates do not print alike
        while digits < 6 and f"{a:.{digits}%}" == f"{b:.{digits}%}":
            digits += 1
        approx = " *" if n > EXACT_POWER_LIMIT else ""
        click.echo(f"{a:>8.{digits}%} {b:>8.{digits}%} {n:>8}{per_probe}{approx}")
        approximate = approximate or bool(approx)
    if approximate:
        click.echo(
            f"* above {EXACT_POWER_LIMIT:,} per arm this is the normal approximation, not "
            "Fisher's exact power; for rates near 0 or 1 it promises more power than the "
            "report's test has (0 % vs 0.1 %: 3,924 per arm give Fisher 20 %, not 80 %)"
        )
