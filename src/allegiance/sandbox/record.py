"""The isolation record a run keeps: what the egress check saw across every isolated pass
of the run, and which of the run's answers it covers.

A run can be asked in several passes (resumes), and a pass reuses answers the store already
holds: "no outbound connection attempted" is only true of the answers made inside isolated
passes, so the record counts those apart from the reused ones and from answers a later
resume added without --isolate.
"""

from __future__ import annotations

from typing import Any


def merged_isolation(
    earlier: dict[str, Any], checked: dict[str, Any], made: int, answered: int
) -> dict[str, Any]:
    """The run's isolation record after one more isolated pass. What was seen is added to,
    never replaced (a clean second pass must not erase an attempt the first recorded), and
    the record says which answers the check covers: those made inside isolated passes, not
    those the run reused from the store or gained from a later resume without --isolate."""
    record = dict(checked)
    record["checked"] = True
    record["outside_attempts"] = int(earlier.get("outside_attempts") or 0) + int(
        checked.get("outside") or 0
    )
    record["attempts"] = [*(earlier.get("attempts") or []), *(checked.get("attempts") or [])]
    record["answers_isolated"] = int(earlier.get("answers_isolated") or 0) + made
    record["answers_unisolated"] = int(earlier.get("answers_unisolated") or 0)
    record["passes"] = int(earlier.get("passes") or 0) + 1
    return _with_reused(record, answered)


def _with_reused(record: dict[str, Any], answered: int) -> dict[str, Any]:
    """``record`` with its reused count: of the run's ``answered`` answers, those neither
    made under the check nor added by a resume without it came from the store."""
    covered = int(record.get("answers_isolated") or 0) + int(record["answers_unisolated"])
    record["answers_reused"] = max(0, answered - covered)
    return record


def isolation_coverage(isolation: dict[str, Any]) -> str:
    """What the check does not cover, in words for a report ("" when it covers every
    answer), so "no outbound connection attempted" is never read as vouching for more."""
    parts = []
    if isolation.get("answers_reused"):
        parts.append(
            f"{isolation['answers_reused']} answer(s) were reused from earlier runs and were "
            "not made under this check"
        )
    if isolation.get("answers_unisolated"):
        parts.append(
            f"{isolation['answers_unisolated']} answer(s) were added by a later resume without "
            "--isolate and are not covered"
        )
    if "answers_isolated" in isolation:
        made = f"while {isolation['answers_isolated']} answer(s) were made"
        return made + ("; " + "; ".join(parts) if parts else "")
    return "; ".join(parts)


def note_unisolated(earlier: dict[str, Any], added: int, answered: int) -> dict[str, Any]:
    """The record after a resume without --isolate asked ``added`` new answers and left the
    run with ``answered`` in all: answers it took from the store (asked by other runs) are
    counted as reused, not as covered."""
    record = dict(earlier)
    record["answers_unisolated"] = int(earlier.get("answers_unisolated") or 0) + added
    return _with_reused(record, answered)
