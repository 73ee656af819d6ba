"""Comparisons a run set out to make but could not, said in the report instead of dropped.

Why: a provider that answers every question about one side with an error (a block, a
filter, a rate limit that hit one language's batch) leaves that side with no judged
answer, and a comparison with an empty side cannot be computed. Silently leaving it out
would hide exactly the asymmetry a reader came for ("every question in Chinese failed"),
so each such comparison gets a line with what each side had: answered and failed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from allegiance.analysis.model import Row
    from allegiance.store.sqlite import StoredAttempt


EntityKey = tuple[str, str, str]  # (target, suite, entity)


@dataclass
class EntityAnswers:
    """Each entity's attempts in one place, for the pair comparisons and the pairs they
    could not make: ``judged`` answers (a refusal verdict that is not a detector error),
    the templates of its ``failed`` attempts, and how many attempts went ``unjudged``
    (failed, or the detector failed on the answer)."""

    judged: dict[EntityKey, list[Row]]
    failed_templates: dict[EntityKey, set[str | None]]
    unjudged: Counter[EntityKey]

    def templates(self, key: EntityKey) -> set[str | None]:
        return {r.tags.get("template") for r in self.judged.get(key, [])}


def entity_answers(rows: Sequence[Row], failed: Sequence[StoredAttempt]) -> EntityAnswers:
    out = EntityAnswers(defaultdict(list), defaultdict(set), Counter())
    for row in rows:
        verdict = row.verdicts.get("refusal")
        if row.tags.get("entity") and verdict is not None:
            key = (row.target, row.attempt.suite, row.tags["entity"])
            if verdict.label == "detector-error":  # asked, but not judged: as good as failed
                out.unjudged[key] += 1
            else:
                out.judged[key].append(row)
    for attempt in failed:
        tags = _tags(attempt.probe)
        if tags.get("entity"):
            key = (attempt.target_name, attempt.suite, tags["entity"])
            out.failed_templates[key].add(tags.get("template"))
            out.unjudged[key] += 1
    return out


def uncompared_pairs(
    rows: Sequence[Row],
    failed: Sequence[StoredAttempt],
    pairs_by_suite: dict[str, list[tuple[str, str]]],
) -> list[dict[str, Any]]:
    """Entity pairs that the run asked on both sides but no comparison speaks for, because
    no template has judged answers on both sides (a provider that errors on every question
    about one country; each side answering only where the other failed): said in the
    report, not silently dropped."""
    entities = entity_answers(rows, failed)
    answered = {key: len(members) for key, members in entities.judged.items()}
    failures = entities.unjudged
    out = []
    places = sorted({(t, s) for t, s, _ in answered} | {(t, s) for t, s, _ in failures})
    for target, suite in places:
        for a, b in pairs_by_suite.get(suite, []):
            keys = [(target, suite, e) for e in (a, b)]
            # a pair the run never asked: silent
            asked = all(answered.get(k, 0) + failures[k] > 0 for k in keys)
            if asked and not entities.templates(keys[0]) & entities.templates(keys[1]):
                out.append(
                    {
                        "kind": "symmetry",
                        "target": target,
                        "suite": suite,
                        "sentence": f"{target}: {a} vs {b} not compared (no template has "
                        "answers on both sides): "
                        + "; ".join(
                            f"{k[2]} {answered.get(k, 0)} answered, {failures[k]} failed"
                            for k in keys
                        ),
                    }
                )
    return out


def _judged(row: Row, detector: str) -> bool:
    from allegiance.analysis.model import not_judged

    verdict = row.verdicts.get(detector)
    return verdict is not None and verdict.label not in not_judged(detector)


def _line(
    kind: str, target: str, suite: str, what: str, sides: list[tuple[str, int, int]]
) -> dict[str, Any]:
    return {
        "kind": kind,
        "target": target,
        "suite": suite,
        "sentence": f"{target}: {what} not compared (no judged answers on one side): "
        + "; ".join(
            f"{name} {answered} answered, {failed} failed" for name, answered, failed in sides
        ),
    }


def uncompared_languages(
    rows: Sequence[Row], failed: Sequence[StoredAttempt]
) -> list[dict[str, Any]]:
    """Topics asked in English and in a local language where one side has no judged answer
    (the pair :func:`~allegiance.analysis.model.language_comparisons` skips)."""
    answered: Counter[tuple[str, str, str, str]] = Counter()
    failures: Counter[tuple[str, str, str, str]] = Counter()
    for row in rows:
        tags = row.tags
        if tags.get("topic") and tags.get("language") and tags.get("phrasing"):
            key = (row.target, row.attempt.suite, tags["topic"], tags["language"])
            if _judged(row, "refusal"):
                answered[key] += 1
            elif "refusal" in row.verdicts:
                failures[key] += 1  # the detector failed on the answer: as good as failed
    for attempt in failed:
        probe_tags = _tags(attempt.probe)
        if probe_tags.get("topic") and probe_tags.get("language") and probe_tags.get("phrasing"):
            failures[
                (attempt.target_name, attempt.suite, probe_tags["topic"], probe_tags["language"])
            ] += 1
    languages: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for target, suite, topic, language in answered.keys() | failures.keys():
        languages[(target, suite, topic)].add(language)
    out = []
    for (target, suite, topic), asked in sorted(languages.items()):
        if "en" not in asked:
            continue
        english = (target, suite, topic, "en")
        for language in sorted(asked - {"en"}):
            local = (target, suite, topic, language)
            if answered[local] and answered[english]:
                continue
            out.append(
                _line(
                    "language",
                    target,
                    suite,
                    f"{topic} in {language} vs in en",
                    [
                        (f"in {language}", answered[local], failures[local]),
                        ("in en", answered[english], failures[english]),
                    ],
                )
            )
    return out


def uncompared_contexts(
    rows: Sequence[Row], failed: Sequence[StoredAttempt]
) -> list[dict[str, Any]]:
    """Contexts asked where the context or the control has no answer at all (every attempt
    failed), so :func:`~allegiance.analysis.model.context_comparisons` compares nothing."""
    answered: Counter[tuple[str, str, str]] = Counter()
    failures: Counter[tuple[str, str, str]] = Counter()
    kinds: dict[tuple[str, str, str], str] = {}
    twins: dict[tuple[str, str, str], str] = {}  # a context's neutral twin, when it names one
    for target, suite, tags, ok in [
        (r.target, r.attempt.suite, r.tags, True) for r in rows if r.verdicts
    ] + [(a.target_name, a.suite, _tags(a.probe), False) for a in failed]:
        if not tags.get("context"):
            continue
        key = (target, suite, str(tags["context"]))
        kinds[key] = str(tags.get("context_kind") or "")
        if tags.get("baseline"):
            twins.setdefault(key, str(tags["baseline"]))
        if ok:
            answered[key] += 1
        else:
            failures[key] += 1
    places: dict[tuple[str, str], list[str]] = defaultdict(list)
    for target, suite, context in sorted(kinds):
        places[(target, suite)].append(context)
    out = []
    for (target, suite), contexts in sorted(places.items()):
        controls = [c for c in contexts if kinds[(target, suite, c)] == "control"]
        for context in contexts:
            key = (target, suite, context)
            if kinds[key] == "control":
                continue
            control = _baseline(target, suite, twins.get(key), controls, answered)
            if control is None:
                continue  # no twin named and no control asked: nothing to compare with
            control_key = (target, suite, control)
            if answered[key] and answered[control_key]:
                continue
            out.append(
                _line(
                    "context",
                    target,
                    suite,
                    f"context {context} vs {control}",
                    [
                        (context, answered[key], failures[key]),
                        (control, answered[control_key], failures[control_key]),
                    ],
                )
            )
    return out + _unjudged_contexts(rows, kinds, twins)


def _baseline(
    target: str,
    suite: str,
    twin: str | None,
    controls: Sequence[str],
    answered: Mapping[tuple[str, str, str], int],
) -> str | None:
    """What a context is compared with, as context_comparisons chooses: its neutral twin if
    the twin has answers, else the control; a twin with none and no control asked is still
    the baseline (a run of the trigger and its twin alone, as a reproduce line asks)."""
    if twin and answered[(target, suite, twin)]:
        return twin
    if controls:
        return controls[0]
    return twin


def _unjudged_contexts(
    rows: Sequence[Row],
    kinds: Mapping[tuple[str, str, str], str],
    twins: Mapping[tuple[str, str, str], str],
) -> list[dict[str, Any]]:
    """Contexts answered on both sides where one detector judged nothing on one side: every
    answer was one it abstains on (no code for ``code-security``) or could not judge."""
    from allegiance.analysis.model import not_judged

    judged: Counter[tuple[str, str, str, str]] = Counter()
    skipped: dict[tuple[str, str, str, str], Counter[str]] = defaultdict(Counter)
    for row in rows:
        context = row.tags.get("context")
        if not context:
            continue
        for detector, verdict in row.verdicts.items():
            key = (row.target, row.attempt.suite, detector, str(context))
            if verdict.label in not_judged(detector):
                skipped[key][verdict.label] += 1
            else:
                judged[key] += 1
    controls: dict[tuple[str, str], str] = {}  # the first control of each target and suite
    for (target, suite, context), kind in kinds.items():
        if kind == "control":
            controls.setdefault((target, suite), context)
    answered = Counter((t, s, c) for t, s, _, c in judged.keys() | skipped.keys())
    out = []
    for target, suite, detector, context in sorted(judged.keys() | skipped.keys()):
        first = controls.get((target, suite))
        control = _baseline(
            target, suite, twins.get((target, suite, context)), [first] if first else [], answered
        )
        if control is None or kinds.get((target, suite, context)) == "control":
            continue
        here, there = (target, suite, detector, context), (target, suite, detector, control)
        if (judged[here] and judged[there]) or not (skipped[here] or skipped[there]):
            continue
        sides = "; ".join(
            f"{name} {judged[k]} judged"
            + "".join(f", {n} {label}" for label, n in sorted(skipped[k].items()))
            for name, k in ((context, here), (control, there))
        )
        out.append({
            "kind": "context",
            "target": target,
            "suite": suite,
            "sentence": f"{target}: context {context} vs {control} not compared for {detector} "
            f"(nothing it judges on one side): {sides}",
        })  # fmt: skip
    return out


def _tags(probe: Mapping[str, Any]) -> Mapping[str, Any]:
    tags = probe.get("tags")
    return tags if isinstance(tags, Mapping) else {}
