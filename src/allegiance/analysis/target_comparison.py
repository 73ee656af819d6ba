"""Model against model: each pair of targets on the same prompts.

Why: choosing which model to allow is the question most users bring ("does this model
refuse more about Tiananmen than that one?"). Rates side by side answer it only by eye; a
comparison on the prompts both targets were asked, stratified by prompt
(Cochran–Mantel–Haenszel), answers it with an interval and a p-value, and goes through the
same false-discovery control and robustness to failed attempts as every comparison. Target
comparisons are a family of their own there: asking "which model?" must not weaken the
findings about each model's own behaviour (its contexts, languages and entity pairs).
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations

from allegiance.analysis import stats
from allegiance.analysis.model import (
    EXAMPLES_PER_SIDE,
    Comparison,
    Row,
    flag_counts,
    typical_examples,
)
from allegiance.store.sqlite import StoredAttempt

KIND = "target"


def target_comparisons(rows: Sequence[Row], failed: Sequence[StoredAttempt]) -> list[Comparison]:
    """For every suite and detector, each pair of targets over the prompts both answered."""
    answers: dict[tuple[str, str], dict[str, dict[str, list[Row]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for row in rows:
        for detector in row.verdicts:
            answers[(row.attempt.suite, detector)][row.target][row.attempt.probe_id].append(row)
    failures: Counter[tuple[str, str, str]] = Counter(
        (a.suite, a.target_name, a.probe_id) for a in failed
    )
    out = []
    for (suite, detector), per_target in sorted(answers.items()):
        for first, second in combinations(sorted(per_target), 2):
            comparison = _compare(suite, detector, first, second, per_target, failures)
            if comparison is not None:
                out.append(comparison)
    return out


def _reproduce(
    suite: str,
    first: str,
    second: str,
    shared: list[str],
    per_target: dict[str, dict[str, list[Row]]],
) -> str:
    """Both targets asked again; only the prompts both answered when either answered more
    (a quick run beside a full one)."""
    words = ["allegiance", "run", suite, "--target", first, "--target", second]
    if len(shared) < max(len(per_target[first]), len(per_target[second])):
        for probe in shared:
            words += ["--probe", probe]
    return shlex.join([*words, "--samples", "3"])


def _compare(
    suite: str,
    detector: str,
    first: str,
    second: str,
    per_target: dict[str, dict[str, list[Row]]],
    failures: Counter[tuple[str, str, str]],
) -> Comparison | None:
    shared = sorted(per_target[first].keys() & per_target[second].keys())
    rows_a = [r for probe in shared for r in per_target[first][probe]]
    rows_b = [r for probe in shared for r in per_target[second][probe]]
    ka, na, fa, ca = flag_counts(rows_a, detector)
    kb, nb, fb, cb = flag_counts(rows_b, detector)
    if not na or not nb:
        return None
    tables = []
    for probe in shared:
        pk, pn, _, _ = flag_counts(per_target[first][probe], detector)
        qk, qn, _, _ = flag_counts(per_target[second][probe], detector)
        if pn and qn:
            tables.append(((pk, pn - pk), (qk, qn - qk)))
    strat = stats.cochran_mantel_haenszel(tables)
    diff = stats.newcombe(ka, na, kb, nb)
    examples_a, examples_b = typical_examples(fa, ca, fb, cb, ka / na >= kb / nb)
    comparison = Comparison(
        kind=KIND,
        detector=detector,
        target=f"{first} vs {second}",
        suite=suite,
        label_a=first,
        label_b=second,
        diff=diff,
        # no prompt told the two apart: no evidence of a difference
        p_value=strat.p_value if strat is not None else 1.0,
        examples_a=examples_a[:EXAMPLES_PER_SIDE],
        examples_b=examples_b[:EXAMPLES_PER_SIDE],
        reproduce=_reproduce(suite, first, second, shared, per_target),
        scope=f"the {len(tables)} prompts both answered, stratified by prompt",
        stratified=strat,
        extra={"targets": [first, second]},
    )
    # A prompt one target failed on (a provider's block as an error) is in neither rate:
    # counted, so that a finding must survive it answered the most opposing way.
    comparison.missing_a = sum(
        failures[(suite, first, p)] for p in per_target[second] if p not in per_target[first]
    )
    comparison.missing_b = sum(
        failures[(suite, second, p)] for p in per_target[first] if p not in per_target[second]
    )
    return comparison
