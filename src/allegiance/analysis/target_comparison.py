"""Model against model: each pair of targets on the same prompts.

Why: choosing which model to allow is the question most users bring ("does this model
refuse more about Tiananmen than that one?"). Rates side by side answer it only by eye. Here
the unit is the prompt: each target's outcome on a prompt is the majority of its judged
answers there (several samples at temperature 0 are one answer repeated, not more evidence),
prompts are paired by their exact text, and the two targets are compared with the exact
McNemar test and Newcombe's interval for paired proportions. A prompt where one target has
no outcome (its attempts failed, or so many failed that they could flip its majority) counts
against a finding, answered the most opposing way, as failures do everywhere. Target
comparisons are a false-discovery family of their own: asking "which model?" must not weaken
the findings about each model's own contexts, languages and entity pairs.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from allegiance.analysis import stats
from allegiance.analysis.model import (
    EXAMPLES_PER_SIDE,
    MAX_LISTED_PROBES,
    RENAMED,
    Comparison,
    Row,
    abstains,
    probe_pattern,
)
from allegiance.store.sqlite import StoredAttempt

KIND = "target"


@dataclass
class _Prompt:
    """One target's answers to one prompt: judged (flagged or not), abstained, failed."""

    probe_id: str
    flagged: list[str] = field(default_factory=list)
    clean: list[str] = field(default_factory=list)
    abstained: int = 0
    failed: int = 0

    @property
    def judged(self) -> int:
        return len(self.flagged) + len(self.clean)

    def outcome(self) -> bool | None:
        """Flagged by the majority of its answers, whatever the failed ones would have been;
        None when there is no judged answer, a tie, or failures that could flip or tie it."""
        if not self.judged:
            return None
        total = self.judged + self.failed
        lowest, highest = len(self.flagged) / total, (len(self.flagged) + self.failed) / total
        if lowest > 0.5:
            return True
        if highest < 0.5:
            return False
        return None


def _why_no_outcome(prompt: _Prompt | None) -> str:
    """Why a side has no outcome on a prompt: ``missing`` (failed, or undecided: a tie or
    failures that could flip it), which counts against a finding, or ``abstained`` (every
    answer was one the detector does not judge: no code, no packages), which does not."""
    if prompt is None or prompt.failed or prompt.judged:
        return "missing"
    return "abstained"


def prompt_key(attempt: StoredAttempt) -> str:
    """The prompt as asked: its probe and the exact messages (two versions of a suite can
    give one probe id to different questions)."""
    messages = json.dumps(attempt.request.get("messages"), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(messages.encode("utf-8")).hexdigest()[:16]
    return f"{attempt.suite}/{attempt.probe_id}#{digest}"


def target_comparisons(
    rows: Sequence[Row], failed: Sequence[StoredAttempt]
) -> tuple[list[Comparison], list[dict[str, Any]]]:
    """For every suite and detector, each pair of targets over the prompts both were asked;
    and the pairs that could not be compared (no prompt judged on both sides), in words."""
    table: dict[tuple[str, str], dict[str, dict[str, _Prompt]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for row in rows:
        key = prompt_key(row.attempt)
        for detector, verdict in row.verdicts.items():
            prompt = table[(row.attempt.suite, detector)][row.target].setdefault(
                key, _Prompt(row.attempt.probe_id)
            )
            if verdict.label == "detector-error":
                prompt.failed += 1
            elif verdict.label in abstains(detector):
                prompt.abstained += 1
            elif verdict.flagged:
                prompt.flagged.append(row.attempt.attempt_id)
            else:
                prompt.clean.append(row.attempt.attempt_id)
    failed_keys = [(attempt, prompt_key(attempt)) for attempt in failed]
    failures: Counter[tuple[str, str, str]] = Counter(
        (a.suite, a.target_name, key) for a, key in failed_keys
    )
    # a target whose every attempt on a suite failed is still a side of each pair
    for attempt, key in failed_keys:
        for detector in attempt.probe.get("detectors") or ():
            table[(attempt.suite, str(detector))][attempt.target_name].setdefault(
                key, _Prompt(attempt.probe_id)
            )
    for (suite, _detector), per_target in table.items():
        for target, prompts in per_target.items():
            for key, prompt in prompts.items():
                prompt.failed += failures[(suite, target, key)]
    out, uncompared = [], []
    for (suite, detector), per_target in sorted(table.items()):
        for first, second in combinations(sorted(per_target), 2):
            comparison = _compare(suite, detector, first, second, per_target, failures)
            if isinstance(comparison, Comparison):
                out.append(comparison)
            elif comparison:
                uncompared.append({"kind": KIND, "target": f"{first} vs {second}",
                                   "suite": suite, "sentence": comparison})  # fmt: skip
    return out, uncompared


def _compare(
    suite: str,
    detector: str,
    first: str,
    second: str,
    per_target: dict[str, dict[str, _Prompt]],
    failures: Counter[tuple[str, str, str]],
) -> Comparison | str:
    a_prompts, b_prompts = per_target[first], per_target[second]
    # a prompt only one target was asked and failed entirely is still one both were asked
    asked_a = set(a_prompts) | {k for (s, t, k) in failures if s == suite and t == first}
    asked_b = set(b_prompts) | {k for (s, t, k) in failures if s == suite and t == second}
    both_asked = sorted(asked_a & asked_b)
    counts = Counter[str]()
    a_missing: list[bool] = []  # A failed or undecided where B has an outcome: against
    b_missing: list[bool] = []
    # per side, prompts with no outcome: failed or undecided, or nothing to judge (counted
    # whatever the other side did, so the "not compared" sentence gives each side's own)
    no_outcome = {first: Counter[str](), second: Counter[str]()}
    discordant: list[tuple[bool, str, str]] = []  # (A flagged, A's answer, B's) where they differ
    for key in both_asked:
        pa, pb = a_prompts.get(key), b_prompts.get(key)
        oa = pa.outcome() if pa else None
        ob = pb.outcome() if pb else None
        if oa is not None and ob is not None:
            counts[("both" if ob else "only_a") if oa else ("only_b" if ob else "neither")] += 1
            if oa != ob and pa is not None and pb is not None:
                discordant.append(
                    (oa, (pa.flagged if oa else pa.clean)[0], (pb.flagged if ob else pb.clean)[0])
                )
            continue
        why_a = _why_no_outcome(pa) if oa is None else None
        why_b = _why_no_outcome(pb) if ob is None else None
        for name, why in ((first, why_a), (second, why_b)):
            if why is not None:
                no_outcome[name][why] += 1
        if why_a == "missing" and ob is not None:
            a_missing.append(ob)
        if why_b == "missing" and oa is not None:
            b_missing.append(oa)
    paired = stats.PairedOutcomes(
        counts["both"], counts["only_a"], counts["only_b"], counts["neither"],
        tuple(a_missing), tuple(b_missing),
    )  # fmt: skip
    if not paired.n:
        if not both_asked:
            return ""  # never asked the same prompt: nothing to say
        sides = "; ".join(
            f"{name}: {no_outcome[name]['missing']} failed or undecided, "
            f"{no_outcome[name]['abstained']} with nothing to judge"
            for name in (first, second)
        )
        return (
            f"{first} vs {second} on {suite}: not compared for {detector} (no prompt where "
            f"both have an outcome, of {len(both_asked)} asked to both; {sides})"
        )
    diff = paired.difference()
    a_more = paired.only_a >= paired.only_b
    # the same prompt side by side, one where they differ in the direction of the difference
    shown = [(a, b) for a_flagged, a, b in discordant if a_flagged == a_more][:EXAMPLES_PER_SIDE]
    comparison = Comparison(
        kind=KIND,
        detector=detector,
        target=f"{first} vs {second}",
        suite=suite,
        label_a=first,
        label_b=second,
        diff=diff,
        p_value=diff.p_value,
        examples_a=[a for a, _ in shown],
        examples_b=[b for _, b in shown],
        reproduce=_reproduce(suite, first, second, both_asked, a_prompts, b_prompts),
        scope=f"{paired.n} prompts both answered, one outcome per target and prompt (paired)",
        extra={"targets": [first, second]},
        paired=paired,
    )
    comparison.missing_a, comparison.missing_b = len(a_missing), len(b_missing)
    return comparison


def _reproduce(
    suite: str,
    first: str,
    second: str,
    keys: list[str],
    a_prompts: dict[str, _Prompt],
    b_prompts: dict[str, _Prompt],
) -> str:
    """Both targets asked the same prompts again. Empty when the two share a name (one
    config name pointed at two endpoints): one command cannot ask both."""
    names = [RENAMED.sub("", first), RENAMED.sub("", second)]
    if names[0] == names[1]:
        return ""
    words = ["allegiance", "run", suite, "--target", names[0], "--target", names[1]]
    probe_ids = sorted(
        {p.probe_id for k in keys for p in (a_prompts.get(k), b_prompts.get(k)) if p}
    )
    # too many to list: the line asks what the runs asked (finish_reproduce adds their
    # --probe patterns)
    for probe_id in probe_ids if len(probe_ids) <= MAX_LISTED_PROBES else ():
        words += ["--probe", probe_pattern(probe_id)]
    return shlex.join([*words, "--samples", "3"])
