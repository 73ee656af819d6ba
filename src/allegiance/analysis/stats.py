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
  the observed counts, with the continuity correction only when |O − E| ≥ 0.5 (as R's
  ``mantelhaen.test``; statsmodels always subtracts it, which turns no evidence into a tiny
  p-value); an odds ratio that a zero makes 0 or infinite is reported as such, without an
  interval (a 0.5 shift on strata of one or two answers can even reverse its direction);
* choice distributions: G-test (no Yates correction, so 2×2 and larger tables get the same
  statistic) and Cramér's V;
* planning: samples per arm for a given difference and power, for the test the report uses
  (Fisher's exact test; its exact power is computed, not the normal approximation's);
* a detector measured on labelled data: F1 with a paired bootstrap interval (scipy), since
  F1 is not a proportion and has no score interval.
"""

from __future__ import annotations

import functools
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
    # at k = 0 or k = n the bound equals the rate up to rounding (1 - 1e-16): clamp it, so
    # that low <= rate <= high holds exactly for anyone checking the JSON
    return Rate(k, n, min(float(low), k / n), max(float(high), k / n))


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


@dataclass(frozen=True)
class PairedOutcomes:
    """Two targets' outcomes on the same prompts, one per prompt and target: ``both``
    flagged, ``only_a``, ``only_b``, ``neither``; and, for prompts where one target has no
    outcome (its attempts failed, or too many failed to settle its majority), the other
    target's outcome there (True: flagged), per side."""

    both: int
    only_a: int
    only_b: int
    neither: int
    a_missing_where_b: tuple[bool, ...] = ()
    b_missing_where_a: tuple[bool, ...] = ()

    @property
    def n(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    def difference(self, alpha: float = ALPHA) -> Difference:
        return newcombe_paired(self.both, self.only_a, self.only_b, self.neither, alpha)

    def worst_case(self, alpha: float = ALPHA) -> Difference:
        """The difference with every prompt one side is missing answered the way that most
        opposes it (on the side flagged more, not flagged; on the other, flagged)."""
        a_more = self.only_a >= self.only_b
        both, only_a, only_b, neither = self.both, self.only_a, self.only_b, self.neither
        for b_flagged in self.a_missing_where_b:  # A's outcome is chosen
            a_flagged = not a_more
            both, only_a, only_b, neither = _add(
                both, only_a, only_b, neither, a_flagged, b_flagged
            )
        for a_flagged in self.b_missing_where_a:  # B's outcome is chosen
            b_flagged = a_more
            both, only_a, only_b, neither = _add(
                both, only_a, only_b, neither, a_flagged, b_flagged
            )
        return newcombe_paired(both, only_a, only_b, neither, alpha)


def _add(
    both: int, only_a: int, only_b: int, neither: int, a: bool, b: bool
) -> tuple[int, int, int, int]:
    return (both + (a and b), only_a + (a and not b), only_b + (b and not a),
            neither + (not a and not b))  # fmt: skip


def newcombe_paired(
    both: int, only_a: int, only_b: int, neither: int, alpha: float = ALPHA
) -> Difference:
    """Rate A minus rate B on the same units (prompts), with Newcombe's interval for paired
    proportions (Newcombe 1998, Statistics in Medicine 17:2635-2650, method 10: the Wilson
    intervals of the two rates combined through the correlation of the pairs) and the exact
    McNemar test (statsmodels). Neither library has the paired interval, so it is written
    out here from the paper (tests check it against an independent implementation)."""
    from statsmodels.stats.contingency_tables import mcnemar

    n = both + only_a + only_b + neither
    k1, k2 = both + only_a, both + only_b
    a, b = wilson(k1, n, alpha), wilson(k2, n, alpha)
    if not n:
        return Difference(a, b, float("nan"), float("nan"), float("nan"), 1.0)
    p1, p2 = k1 / n, k2 / n
    products = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    agree, disagree = both * neither, only_a * only_b
    if products == 0:
        phi = 0.0
    elif agree > disagree:  # the paper's continuity correction of the correlation
        phi = max(agree - disagree - n / 2, 0.0) / math.sqrt(products)
    else:
        phi = (agree - disagree) / math.sqrt(products)
    d1, u1 = p1 - a.low, a.high - p1
    d2, u2 = p2 - b.low, b.high - p2
    delta = math.sqrt(max(d1 * d1 - 2 * phi * d1 * u2 + u2 * u2, 0.0))
    epsilon = math.sqrt(max(u1 * u1 - 2 * phi * u1 * d2 + d2 * d2, 0.0))
    diff = p1 - p2
    p_value = float(mcnemar([[both, only_a], [only_b, neither]], exact=True).pvalue)
    return Difference(a, b, diff, max(-1.0, diff - delta), min(1.0, diff + epsilon), p_value)


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


def corrected_rate(
    rate: Rate,
    sensitivity: float,
    specificity: float,
    measured_on: tuple[int, int, int, int] | None = None,
) -> CorrectedRate:
    """Rogan–Gladen: the true rate given a detector's measured error, clipped to [0, 1].

    The estimate is reported as computed, not rounded to a whole number of answers: with
    n = 3 a corrected 45 % must not be shown as 33 %.

    The interval: given ``measured_on`` — the (TP, FN, FP, TN) counts behind the sensitivity
    and specificity — a seeded parametric bootstrap that draws the observed rate, the
    sensitivity and the specificity from their Jeffreys posteriors, so the detector's own
    uncertainty widens it (transforming the Wilson bounds alone, as before, ignored that a
    sensitivity measured on 83 answers is itself uncertain). Without counts, the Wilson
    bounds transformed the same way as the estimate.
    """
    denominator = sensitivity + specificity - 1
    if not rate.n or not denominator > 0:
        # no correction exists for a detector no better than chance (or unmeasured)
        return CorrectedRate(math.nan, math.nan, math.nan)

    def fix(x: float) -> float:
        return min(1.0, max(0.0, (x + specificity - 1) / denominator))

    estimate = fix(rate.p)
    if measured_on is None:
        return CorrectedRate(estimate, fix(rate.low), fix(rate.high))
    low, high = _bootstrap_corrected(rate.k, rate.n, measured_on)
    return CorrectedRate(estimate, min(low, estimate), max(high, estimate))


CORRECTION_DRAWS = 20_000


@functools.lru_cache(maxsize=4096)  # a report asks for the same (k, n) in many tables
def _bootstrap_corrected(k: int, n: int, counts: tuple[int, int, int, int]) -> tuple[float, float]:
    import numpy as np

    tp, fn, fp, tn = counts
    rng = np.random.default_rng(20261128)  # fixed: a report's numbers do not move
    observed = rng.beta(k + 0.5, n - k + 0.5, CORRECTION_DRAWS)
    sens = rng.beta(tp + 0.5, fn + 0.5, CORRECTION_DRAWS)
    spec = rng.beta(tn + 0.5, fp + 0.5, CORRECTION_DRAWS)
    denominator = sens + spec - 1
    usable = denominator > 0
    corrected = np.clip((observed[usable] + spec[usable] - 1) / denominator[usable], 0.0, 1.0)
    half = ALPHA / 2
    return float(np.quantile(corrected, half)), float(np.quantile(corrected, 1 - half))


@dataclass(frozen=True)
class StratifiedEffect:
    odds_ratio: float
    low: float
    high: float
    p_value: float
    strata: int

    def agrees_with(self, difference: float) -> bool:
        """Does the within-stratum effect point the same way as a pooled difference? When
        not, the pooled difference comes from the mix of strata (Simpson's paradox)."""
        if difference == 0 or self.odds_ratio == 1:
            return True
        return (self.odds_ratio > 1) == (difference > 0)


def cochran_mantel_haenszel(
    tables: Sequence[tuple[tuple[int, int], tuple[int, int]]],
) -> StratifiedEffect | None:
    """Pooled odds ratio of 2×2 tables, one per stratum (task): rows = (trigger, control),
    columns = (flagged, not flagged). Strata with no variation carry no information and are
    dropped; returns None when nothing is left."""
    import numpy as np
    from scipy.stats import chi2
    from statsmodels.stats.contingency_tables import StratifiedTable

    useful = [t for t in tables if (t[0][0] + t[1][0]) not in (0, sum(t[0]) + sum(t[1]))]
    if not useful:
        return None
    counts = np.array(useful, dtype=float).transpose(1, 2, 0)
    # The test is of the counts we observed: it is defined with zero cells (each kept
    # stratum has variance), and adding 0.5 everywhere would pull p towards 1.
    a, b, c, d = counts[0, 0], counts[0, 1], counts[1, 0], counts[1, 1]
    n = counts.sum(axis=(0, 1))
    observed_minus_expected = float(np.sum(a - (a + b) * (a + c) / n))
    table = StratifiedTable(counts)
    test = table.test_null_odds(correction=abs(observed_minus_expected) >= 0.5)
    numerator, denominator = float(np.sum(a * d / n)), float(np.sum(b * c / n))
    if numerator > 0 and denominator > 0:
        odds_ratio = float(table.oddsratio_pooled)
        low, high = (float(x) for x in table.oddsratio_pooled_confint())
    else:
        # every informative stratum has its zero in the same place: the direction is clear,
        # the size is not
        odds_ratio = 0.0 if numerator == 0 else math.inf
        low = high = math.nan
    # statsmodels gives 1 - cdf, which is 0 for a statistic past ~70 ("p = 0", "q = 0" in a
    # report); the survival function keeps the tail (125.08 -> 4.9e-29)
    p_value = float(chi2.sf(float(test.statistic), 1))
    return StratifiedEffect(odds_ratio, low, high, p_value, len(useful))


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
    g, p_value, dof, _ = chi2_contingency(array, correction=False, lambda_="log-likelihood")
    v = association(array.astype(int), method="cramer")
    return Association(float(g), float(p_value), int(dof), float(v))


# Above this many answers per arm the exact power (O(n²) per evaluation) is replaced by the
# normal approximation, which Fisher's test approaches as n grows.
EXACT_POWER_LIMIT = 1500


def samples_needed(p1: float, p2: float, *, power: float = 0.8, alpha: float = ALPHA) -> int:
    """Samples per arm to detect rates p1 vs p2 (two-sided) with the given power, for the
    test the report applies to a difference (Fisher's exact test).

    The normal approximation (arcsine effect size, as statsmodels' ``NormalIndPower``)
    promises power Fisher's test does not have at small n — 23 per arm for 36 % vs 76 % gives
    it 72 %, not 80 % — so the answer is the smallest n found by bisection whose *exact*
    power reaches ``power``.
    """
    if p1 == p2:
        raise ValueError("the two rates must differ")
    high = max(1, _normal_samples(p1, p2, power, alpha))
    while power_at(p1, p2, high, alpha=alpha) < power:
        high = math.ceil(high * 1.25) + 1
    low = 0  # power_at(…, 0) is 0: the invariant is power(low) < power <= power(high)
    while high - low > 1:
        middle = (low + high) // 2
        if power_at(p1, p2, middle, alpha=alpha) >= power:
            high = middle
        else:
            low = middle
    return high


def _normal_samples(p1: float, p2: float, power: float, alpha: float) -> int:
    """The closed-form sample size of the normal approximation (a starting point)."""
    from scipy.stats import norm
    from statsmodels.stats.proportion import proportion_effectsize

    effect = abs(float(proportion_effectsize(p1, p2)))
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    return math.ceil((z / effect) ** 2)


def power_at(p1: float, p2: float, n: int, *, alpha: float = ALPHA) -> float:
    """Power of the two-sided test with ``n`` answers per arm: exact for Fisher's test up to
    :data:`EXACT_POWER_LIMIT`, the normal approximation above it."""
    if n <= 0:
        return 0.0
    if n > EXACT_POWER_LIMIT:
        from statsmodels.stats.power import NormalIndPower
        from statsmodels.stats.proportion import proportion_effectsize

        effect = abs(proportion_effectsize(p1, p2))
        return float(NormalIndPower().power(effect_size=effect, nobs1=n, alpha=alpha, ratio=1.0))
    return _fisher_power(p1, p2, n, alpha)


def _fisher_power(p1: float, p2: float, n: int, alpha: float) -> float:
    """Σ over every outcome (x1, x2) of P(x1) P(x2) · [Fisher's two-sided p ≤ alpha].

    Given the total t = x1 + x2, x1 is hypergeometric under the null, and the two-sided
    p-value of x1 sums the probabilities no larger than its own (with scipy's relative
    tolerance of 1e-7), so each t costs one sort. Outcomes either arm reaches with
    probability below 1e-12 are skipped: they cannot move the power's third decimal."""
    import numpy as np
    from scipy.special import gammaln
    from scipy.stats import binom

    outcomes = np.arange(n + 1)
    prob_a, prob_b = binom.pmf(outcomes, n, p1), binom.pmf(outcomes, n, p2)
    reach_a = np.flatnonzero(prob_a > 1e-12)
    reach_b = np.flatnonzero(prob_b > 1e-12)
    if not len(reach_a) or not len(reach_b):
        return 0.0
    log_choose_n = gammaln(n + 1) - gammaln(outcomes + 1) - gammaln(n - outcomes + 1)
    everything = np.arange(2 * n + 1)
    log_choose_2n = gammaln(2 * n + 1) - gammaln(everything + 1) - gammaln(2 * n - everything + 1)
    total = 0.0
    for t in range(int(reach_a[0] + reach_b[0]), int(reach_a[-1] + reach_b[-1]) + 1):
        x1 = np.arange(max(0, t - n), min(n, t) + 1)
        weight = prob_a[x1] * prob_b[t - x1]
        null = np.exp(log_choose_n[x1] + log_choose_n[t - x1] - log_choose_2n[t])
        ordered = np.sort(null)
        cumulative = np.cumsum(ordered)
        index = np.searchsorted(ordered, null * (1 + 1e-7), side="right") - 1
        total += float(np.sum(weight[cumulative[index] <= alpha]))
    return min(1.0, total)


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
        # A resample with no positive label and no positive verdict has no F1 (0/0): left out
        # of the interval, not scored 0 (a perfect detector got [0, 1]) nor 1 (one that
        # missed the only positive got [0, 1]).
        return np.where(tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), np.nan)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined resamples are NaN, dropped below
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
    scores = result.bootstrap_distribution
    scores = scores[~np.isnan(scores)]
    if scores.size == 0:
        return None
    low, high = np.percentile(scores, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)
