"""Intervals, tests and multiple-comparison control, from statsmodels and scipy.

Hand-rolled formulas are where statistical bugs hide; every number here comes from a
well-kept library, and this module only adapts inputs and outputs:

* a rate: Wilson score interval (good coverage at small n and rates near 0 or 1);
* a difference of two rates: Newcombe's hybrid score interval, with Fisher's exact test;
* many comparisons: Benjamini–Hochberg, and for the selected ones intervals at the
  false-coverage-rate-adjusted level (Benjamini & Yekutieli 2005), so "the interval excludes
  zero" still means something after selection;
* a detector's own error: the Rogan–Gladen correction with the detector's measured
  sensitivity and specificity (garak reports rates corrected the same way);
* stratified effects (same task under two contexts): Cochran–Mantel–Haenszel, tested on
  the observed counts (a continuity shift is applied to the odds-ratio estimate only, and
  only when a zero would make it infinite);
* choice distributions: G-test and Cramér's V;
* planning: samples per arm for a given difference and power;
* a detector measured on labelled data: F1 with a paired bootstrap interval (scipy), since
  F1 is not a proportion and has no score interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ALPHA = 0.05


@dataclass(frozen=True)
class Rate:
    k: int
    n: int
    low: float
    high: float

    @property
    def p(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def fmt(self) -> str:
        if not self.n:
            return "n/a"
        return f"{100 * self.p:.0f} % [{100 * self.low:.0f}–{100 * self.high:.0f}]"


@dataclass(frozen=True)
class Difference:
    """Rate A minus rate B, with a Newcombe interval and Fisher's exact p-value."""

    a: Rate
    b: Rate
    diff: float
    low: float
    high: float
    p_value: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def wilson(k: int, n: int, alpha: float = ALPHA) -> Rate:
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return Rate(0, 0, float("nan"), float("nan"))
    low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
    return Rate(k, n, float(low), float(high))


def newcombe(k1: int, n1: int, k2: int, n2: int, alpha: float = ALPHA) -> Difference:
    from scipy.stats import fisher_exact
    from statsmodels.stats.proportion import confint_proportions_2indep

    a, b = wilson(k1, n1, alpha), wilson(k2, n2, alpha)
    if not n1 or not n2:
        return Difference(a, b, float("nan"), float("nan"), float("nan"), 1.0)
    low, high = confint_proportions_2indep(
        k1, n1, k2, n2, method="newcomb", compare="diff", alpha=alpha
    )
    _, p_value = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])
    return Difference(a, b, k1 / n1 - k2 / n2, float(low), float(high), float(p_value))


def benjamini_hochberg(
    p_values: Sequence[float], q: float = ALPHA
) -> tuple[list[bool], list[float]]:
    """Which hypotheses are rejected at FDR ``q``, and their BH-adjusted p-values.

    A p-value that is not a number (a test that could not be computed) counts as 1: it is
    never a discovery, and it cannot poison the step-up ranking of the others.
    """
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return [], []
    cleaned = [p if math.isfinite(p) else 1.0 for p in p_values]
    reject, adjusted, _, _ = multipletests(cleaned, alpha=q, method="fdr_bh")
    return [bool(r) for r in reject], [float(a) for a in adjusted]


def fcr_alpha(selected: int, total: int, alpha: float = ALPHA) -> float:
    """Interval level for the ``selected`` of ``total`` comparisons (Benjamini–Yekutieli)."""
    if total == 0:
        return alpha
    return alpha * max(selected, 1) / total


@dataclass(frozen=True)
class CorrectedRate:
    """A rate corrected for detector error: an estimate, not a count of answers."""

    p: float
    low: float
    high: float


def corrected_rate(rate: Rate, sensitivity: float, specificity: float) -> CorrectedRate:
    """Rogan–Gladen: the true rate given a detector's measured error, with the Wilson
    bounds transformed the same way and clipped to [0, 1].

    The estimate is reported as computed, not rounded to a whole number of answers: with
    n = 3 a corrected 45 % must not be shown as 33 %.
    """
    denominator = sensitivity + specificity - 1
    if denominator <= 0 or not rate.n:
        return CorrectedRate(rate.p, rate.low, rate.high)

    def fix(x: float) -> float:
        return min(1.0, max(0.0, (x + specificity - 1) / denominator))

    return CorrectedRate(fix(rate.p), fix(rate.low), fix(rate.high))


@dataclass(frozen=True)
class StratifiedEffect:
    odds_ratio: float
    low: float
    high: float
    p_value: float
    strata: int


def cochran_mantel_haenszel(
    tables: Sequence[tuple[tuple[int, int], tuple[int, int]]],
) -> StratifiedEffect | None:
    """Pooled odds ratio of 2×2 tables, one per stratum (task): rows = (trigger, control),
    columns = (flagged, not flagged). Strata with no variation carry no information and are
    dropped; returns None when nothing is left."""
    import numpy as np
    from statsmodels.stats.contingency_tables import StratifiedTable

    useful = [t for t in tables if (t[0][0] + t[1][0]) not in (0, sum(t[0]) + sum(t[1]))]
    if not useful:
        return None
    counts = np.array(useful, dtype=float).transpose(1, 2, 0)
    # The test is of the counts we observed: it is defined with zero cells (each kept
    # stratum has variance), and adding 0.5 everywhere would pull p towards 1.
    test = StratifiedTable(counts).test_null_odds(correction=True)
    a, b, c, d = counts[0, 0], counts[0, 1], counts[1, 0], counts[1, 1]
    n = counts.sum(axis=(0, 1))
    finite = float(np.sum(a * d / n)) > 0 and float(np.sum(b * c / n)) > 0
    # The Mantel–Haenszel odds ratio is infinite (or zero) when every stratum has a zero
    # in the same place; only then is the estimate taken from counts shifted by 0.5.
    table = StratifiedTable(counts if finite else counts + 0.5)
    low, high = table.oddsratio_pooled_confint()
    return StratifiedEffect(
        float(table.oddsratio_pooled), float(low), float(high), float(test.pvalue), len(useful)
    )


@dataclass(frozen=True)
class Association:
    g: float
    p_value: float
    dof: int
    cramers_v: float


def g_test(table: Sequence[Sequence[int]]) -> Association | None:
    """G-test of independence for a contingency table (rows = contexts, columns = choices),
    with Cramér's V as the effect size. None when the table is degenerate."""
    import numpy as np
    from scipy.stats import chi2_contingency
    from scipy.stats.contingency import association

    array = np.array(table, dtype=float)
    array = array[array.sum(axis=1) > 0][:, array.sum(axis=0) > 0]
    if array.shape[0] < 2 or array.shape[1] < 2:
        return None
    g, p_value, dof, _ = chi2_contingency(array, lambda_="log-likelihood")
    v = association(array.astype(int), method="cramer")
    return Association(float(g), float(p_value), int(dof), float(v))


def samples_needed(p1: float, p2: float, *, power: float = 0.8, alpha: float = ALPHA) -> int:
    """Samples per arm to detect rates p1 vs p2 (two-sided) with the given power: the
    smallest whole n whose power (arcsine effect size, normal test) reaches ``power``.

    Found by search on :func:`power_at` rather than statsmodels' root finder, which returns
    NaN for large effects (0 % vs 100 %) whose answer is a handful of samples.
    """
    from scipy.stats import norm
    from statsmodels.stats.proportion import proportion_effectsize

    if p1 == p2:
        raise ValueError("the two rates must differ")
    effect = abs(float(proportion_effectsize(p1, p2)))
    # one-tailed closed form as the starting point; the search below settles it exactly
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    n = max(1, math.ceil(2 * (z / effect) ** 2))
    while n > 1 and power_at(p1, p2, n - 1, alpha=alpha) >= power:
        n -= 1
    while power_at(p1, p2, n, alpha=alpha) < power:
        n += 1
    return n


def power_at(p1: float, p2: float, n: int, *, alpha: float = ALPHA) -> float:
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    effect = abs(proportion_effectsize(p1, p2))
    return float(NormalIndPower().power(effect_size=effect, nobs1=n, alpha=alpha, ratio=1.0))


# Resamples for the F1 interval: the percentile interval's ends move by < 0.005 between
# seeds at this count on a few hundred answers; a fixed seed makes the printout reproducible.
F1_RESAMPLES = 2000


def f1_interval(
    truth: Sequence[bool], flagged: Sequence[bool], alpha: float = ALPHA
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of F1 over (label, verdict) pairs resampled together.

    None when there is nothing to resample: fewer than two pairs, or no positive label and no
    positive verdict (F1 is then undefined in every resample).
    """
    import warnings

    import numpy as np
    from scipy import stats

    t = np.asarray(truth, dtype=np.int8)
    f = np.asarray(flagged, dtype=np.int8)
    if len(t) < 2 or not (t.any() or f.any()):
        return None

    def f1(t: Any, f: Any, axis: int = -1) -> Any:
        tp = np.sum(t * f, axis=axis)
        wrong = np.sum(t != f, axis=axis)  # false positives plus false negatives
        return np.where(tp > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate resample (all one class) is F1 0, fine
        result = stats.bootstrap(
            (t, f),
            f1,
            paired=True,
            vectorized=True,
            n_resamples=F1_RESAMPLES,
            batch=200,
            confidence_level=1 - alpha,
            method="percentile",
            rng=np.random.default_rng(0),
        )
    low, high = result.confidence_interval
    return float(low), float(high)
