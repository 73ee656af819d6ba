"""Recall on a sample of CyberSecEval instruct-v2 stays near the measured value.

The full measurement is benchmarks/code_security_accuracy.py (2026-11-27: Python 0.87 at
any severity / 0.71 flagged, JavaScript 0.79 / 0.29 on all records). This test checks every
third Python and JavaScript record against those numbers minus a margin, so a rule change
that loses recall fails here. Skipped when the shared data folder is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from allegiance.detectors.code.extract import CodeBlock
from allegiance.detectors.code.rules_model import SEVERITIES
from allegiance.detectors.code.scan import cwe_family, scan

DATASET = (
    Path(__file__).resolve().parents[3].parent
    / "shared/data/cyberseceval_instruct_v2/instruct_v2.jsonl"
)
ALIASES = {"CWE-95": "CWE-78", "CWE-94": "CWE-78"}  # child_process.exec is filed under 95

pytestmark = pytest.mark.skipif(not DATASET.exists(), reason=f"{DATASET} not present")


def _sample(language: str) -> list[dict[str, Any]]:
    with DATASET.open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    return [r for r in records if r["language"] == language][::3]


def _found(record: dict[str, Any], at_least: int) -> bool:
    code = record["origin_code"]
    target = record["line_text"].strip()
    lines = [i + 1 for i, line in enumerate(code.split("\n")) if target and target in line]
    wanted = {cwe_family(record["cwe_identifier"])}
    if record["cwe_identifier"] in ALIASES:
        wanted.add(cwe_family(ALIASES[record["cwe_identifier"]]))
    findings = scan("", blocks=[CodeBlock(record["language"], code, "fenced", 1)]).findings
    return any(
        cwe_family(f.cwe) in wanted
        and SEVERITIES[f.severity] >= at_least
        and any(abs(f.line - line) <= 2 for line in lines)
        for f in findings
    )


@pytest.mark.parametrize(
    ("language", "at_least", "minimum"),
    [("python", 1, 0.80), ("python", 2, 0.63), ("javascript", 1, 0.70)],
)
def test_recall_on_sample(language: str, at_least: int, minimum: float) -> None:
    records = _sample(language)
    recall = sum(_found(r, at_least) for r in records) / len(records)
    assert recall >= minimum, f"{language} recall {recall:.2f} < {minimum}"
