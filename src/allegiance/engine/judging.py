"""Second opinions from an LLM judge, stored beside the fast detector's verdicts.

The judge's verdicts are stored as detector ``NAME-judge`` (``refusal-judge``, and for code
``code-security-judge`` and ``scope-judge``: a trusted model reviewing what the model under
test wrote, beside the static analysis), so
every rate, comparison and finding can be read under either, and the report shows how well
the two agree (Cohen's kappa). The judge's identity is part of the verdict version: another
judge model re-judges.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from allegiance.config import Config
from allegiance.detectors.base import get_detector
from allegiance.detectors.llm_judge import RUBRICS, describe_problems, judge_items, rubric_for
from allegiance.engine.detect import probe_hash
from allegiance.store.sqlite import Store, StoredAttempt, StoredVerdict
from allegiance.targets.base import warm_up
from allegiance.targets.resolve import build_target, target_id

# Every detector a judge has a rubric for: refusals, and code (security review, scope).
JUDGED_DETECTORS: tuple[str, ...] = tuple(RUBRICS)


def judge_run(
    store: Store,
    run_ids: Sequence[str],
    judge_spec: str,
    config: Config,
    *,
    detectors: Sequence[str] = JUDGED_DETECTORS,
    api_key_env: str | None = None,
    concurrency: int = 4,
) -> JudgeOutcome:
    """Ask the judge about every answer each of ``detectors`` judged: refusals with the
    refusal rubric, code with the security and scope review rubrics."""
    target, _ = build_target(judge_spec, config, api_key_env=api_key_env)
    rubrics = {d: rubric_for(d) for d in detectors}
    judge = f"llm:{judge_spec}:{target_id(target.identity())}"
    # another judge model, another rubric or another reading of replies: asked again
    version = {d: f"{judge}:rubric.{rubrics[d].digest}" for d in detectors}
    todo = _to_judge(store, run_ids, version)
    if not todo:
        return JudgeOutcome(written=0, asked=0, problems=[], failed=0)
    warm_up(target)
    items = [
        (rubrics[d], a.request["messages"][-1]["content"], a.response_text or "") for d, a in todo
    ]
    replies = asyncio.run(judge_items(target, items, concurrency=concurrency))
    # A reply without a label is stored too, as a detector error (left out of rates, shown
    # in the report): otherwise an earlier judge's verdict would stand under this judge's name.
    verdicts = [
        StoredVerdict(
            attempt_id=a.attempt_id,
            detector=f"{detector}-judge",
            detector_version=version[detector],
            label=reply.label or "detector-error",
            flagged=reply.label in get_detector(detector).flagged_labels,
            score=None,
            evidence={"judge": judge_spec}
            | ({} if reply.label else {"problem": reply.failed or f"reply: {reply.unreadable}"}),
            probe_hash=probe_hash(a),
        )
        for (detector, a), reply in zip(todo, replies, strict=True)
    ]
    store.record_verdicts(verdicts)
    return JudgeOutcome(
        written=sum(1 for r in replies if r.label),
        asked=len(replies),
        problems=describe_problems(replies),
        failed=sum(1 for r in replies if r.failed),
        by_detector=dict(Counter(d for (d, _), r in zip(todo, replies, strict=True) if r.label)),
    )


def _to_judge(
    store: Store, run_ids: Sequence[str], versions: Mapping[str, str]
) -> list[tuple[str, StoredAttempt]]:
    """(detector, answer) for each answer of ``run_ids`` that a detector of ``versions``
    judged and this judge (at that detector's version) has not. Each run's answers and
    verdicts are read once for all detectors."""
    todo: dict[str, list[StoredAttempt]] = {detector: [] for detector in versions}
    queued: set[str] = set()  # runs compared together share attempts; ask about each once
    for run_id in run_ids:
        attempts = [a for a in store.run_attempts(run_id) if a.status == "ok"]
        existing = store.verdicts([a.attempt_id for a in attempts])
        for attempt in attempts:
            if attempt.attempt_id in queued:
                continue
            queued.add(attempt.attempt_id)
            stored = existing.get(attempt.attempt_id, {})
            for detector, version in versions.items():
                if detector not in (attempt.probe.get("detectors") or []):
                    continue
                current = stored.get(f"{detector}-judge")
                if (
                    current is not None
                    and current.detector_version == version
                    and current.label != "detector-error"  # failed or unreadable: ask again
                ):
                    continue
                todo[detector].append(attempt)
    return [(detector, attempt) for detector, attempts in todo.items() for attempt in attempts]


@dataclass(frozen=True)
class JudgeOutcome:
    """What a judging pass did: labels written, answers asked about, and what went wrong."""

    written: int
    asked: int
    problems: list[str]
    failed: int
    by_detector: dict[str, int] = field(default_factory=dict)  # labels written per rubric

    def summary(self) -> str:
        """ "27 verdicts (refusal 3, code-security 12, scope 12)": a code answer is reviewed
        under each rubric its detectors have, so verdicts outnumber answers."""
        parts = ", ".join(f"{d} {n}" for d, n in sorted(self.by_detector.items()))
        return f"{self.written} verdicts" + (f" ({parts})" if parts else "")
