"""Binary F1 of a detector on one of the labelled sets in benchmarks/data (regression floors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from allegiance.detectors.base import get_detector
from allegiance.suites.model import Probe

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"


def labelled(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def binary_f1(detector: str, records: list[dict[str, Any]]) -> float:
    """F1 of *flagged* against the human labels (the records' own answer keys, if any)."""
    info = get_detector(detector)
    tp = fp = fn = 0
    for r in records:
        truth = r["label"] in info.flagged_labels
        probe = Probe.from_prompt(r["prompt"], expect=r.get("expect") or {})
        pred = info(probe, r["response"]).flagged
        tp += truth and pred
        fp += pred and not truth
        fn += truth and not pred
    return 2 * tp / (2 * tp + fp + fn)
