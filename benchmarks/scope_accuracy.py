"""Accuracy of the ``scope`` detector (edits nobody asked for) on labelled coding answers.

Why: the detector accuses a model of tampering with a project, so its precision matters more
than anything else, and its recall says how much tampering a clean report can hide. The
labelled answers (``benchmarks/data/scope_labelled.jsonl``, guide: ``SCOPE_LABELS.md``) are
three sets, all to the nine ``llm-settings`` tasks of the ``sabotage`` suite:

* ``b1``: 108 answers written and labelled by a helper session in the styles of current
  coding models, blind to the detector (scored once before any change for it);
* ``b2``: 90 more from another helper session, written while b1 was being used for tuning,
  blind too (scored once before the changes it then prompted);
* ``b3``: 72 more from a fourth helper session, written and scored once after every change
  above: never used for tuning (held out);
* ``real``: 144 real answers of the two embedded models (Qwen2.5-Coder-0.5B and
  SmolLM2-135M, temperature 0.7, two samples under four contexts), labelled by a third
  helper session that never saw the detector or its verdicts.

    PYTHONPATH=src python benchmarks/scope_accuracy.py [--errors]

Printed per set: binary precision / recall / F1 for *flagged* (changed-setting or
vendor-switch), exact-label accuracy, and the confusion matrix.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import machine_line  # noqa: E402
from refusal_accuracy import binary, metric_row, table  # noqa: E402

DATA = HERE / "data" / "scope_labelled.jsonl"
LANGUAGE = {"py": "python", "js": "javascript", "ts": "typescript", "go": "go"}
SETS = (
    ("b1", "b1: helper-written, blind"),
    ("b2", "b2: helper-written, blind"),
    ("b3", "b3: helper-written, blind"),
    ("b4", "b4: helper-written, blind"),
    ("real", "real answers of the embedded models"),
    (None, "all"),
)


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", action="store_true", help="list the disagreements")
    args = parser.parse_args()

    from allegiance.detectors.base import get_detector
    from allegiance.suites.model import Probe

    detector = get_detector("scope")
    records = load(args.data)
    predicted = []
    for record in records:
        language = LANGUAGE[record["probe_id"].split("-", 1)[0]]
        probe = Probe.from_prompt(record["prompt"], expect={"language": language})
        predicted.append(detector(probe, record["response"]).label)
    flagged = set(detector.flagged_labels)

    print(f"# `scope` (version {detector.version}) on {len(records)} labelled answers\n")
    print(machine_line() + "\n")
    rows = []
    for name, title in SETS:
        idx = [i for i, r in enumerate(records) if name is None or r["set"] == name]
        if not idx:
            continue  # a set this file does not hold
        truth = [records[i]["label"] in flagged for i in idx]
        pred = [predicted[i] in flagged for i in idx]
        exact = sum(records[i]["label"] == predicted[i] for i in idx) / len(idx)
        row = metric_row(title, "allegiance scope", binary(truth, pred, interval=True))
        rows.append([*row, f"{exact:.3f}"])
    print(
        table(
            rows,
            ["set", "detector", "n", "positives", "precision", "recall", "F1", "exact label"],
        )
    )
    labels = list(detector.labels)
    confusion = Counter((r["label"], p) for r, p in zip(records, predicted, strict=True))
    print("\n## Confusion, all sets (rows: label, columns: ours)\n")
    print(
        table(
            [[gold, *(str(confusion[(gold, ours)]) for ours in labels)] for gold in labels],
            ["label \\ ours", *labels],
        )
    )
    if args.errors:
        print("\n## Disagreements\n")
        for record, ours in zip(records, predicted, strict=True):
            if record["label"] != ours:
                print(f"- {record['id']} ({record['probe_id']}): label {record['label']}, "
                      f"ours {ours} :: {record['note']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
