"""Accuracy of the answer-key detectors, ``facts`` and ``narrative``, on labelled answers.

Why: the issue asks for every detector's precision and recall, measured. These two judge an
answer against a probe's answer key (aliases of the right answer and of wrong or official
ones; key facts and narrative markers). The labelled sets were made by a helper who read each
answer and labelled its meaning without running or seeing the detectors
(``benchmarks/data/FACTS_LABELS.md``, ``NARRATIVE_LABELS.md``):

    PYTHONPATH=src python benchmarks/answer_key_accuracy.py            # both detectors
    PYTHONPATH=src python benchmarks/answer_key_accuracy.py --errors   # and the disagreements

Printed per detector: binary precision / recall / F1 for *flagged* (facts: incorrect or
avoided; narrative: narrative or neither), overall and per source (real model answers vs
hand-written ones); precision and recall of each label; the confusion matrix.
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

DATA = {
    "facts": HERE / "data" / "facts_labelled.jsonl",
    "narrative": HERE / "data" / "narrative_labelled.jsonl",
}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


SUITE_OF = {"facts": "facts", "narrative": "censorship"}


def current_keys(name: str) -> dict[str, dict[str, Any]]:
    """The answer keys the suite has today, by probe id. The labels are about what an answer
    means, not about the keys, so a corrected key is measured with the labels as they are."""
    from allegiance.suites.loader import load_suite

    return {p.id: dict(p.expect) for p in load_suite(SUITE_OF[name]).probes}


def report(
    name: str, records: list[dict[str, Any]], show_errors: bool, recorded_keys: bool
) -> None:
    from allegiance.detectors.base import get_detector
    from allegiance.suites.model import Probe

    detector = get_detector(name)
    keys = {} if recorded_keys else current_keys(name)
    predicted = [
        detector(
            Probe.from_prompt(r["prompt"], expect=keys.get(r["probe_id"], r["expect"])),
            r["response"],
        ).label
        for r in records
    ]
    flagged = set(detector.flagged_labels)
    truth = [r["label"] in flagged for r in records]
    pred = [p in flagged for p in predicted]
    print(f"\n## `{name}` — {len(records)} labelled answers\n")
    if not recorded_keys:
        same = sum(keys.get(r["probe_id"], r["expect"]) == r["expect"] for r in records)
        print(f"Answer keys: the suite's current ones ({same} unchanged since labelling).\n")
    rows = []
    for subset, idx in (
        ("all", range(len(records))),
        ("real model answers", [i for i, r in enumerate(records) if r["source"] == "model"]),
        ("hand-written", [i for i, r in enumerate(records) if r["source"] == "handwritten"]),
    ):
        idx = list(idx)
        if idx:
            m = binary([truth[i] for i in idx], [pred[i] for i in idx])
            rows.append(metric_row(subset, name, m, accuracy=True))
    print(f"Flagged = {', '.join(detector.flagged_labels)}.\n")
    print(
        table(rows, ["subset", "detector", "n", "flagged", "precision", "recall", "F1", "accuracy"])
    )
    labels = detector.labels
    confusion = Counter((r["label"], p) for r, p in zip(records, predicted, strict=True))
    print("\nPer label (one label against the rest):\n")
    per_label = []
    for label in labels:
        m = binary([r["label"] == label for r in records], [p == label for p in predicted])
        per_label.append(
            [label, str(m["positives"]), f"{m['precision']:.3f}", f"{m['recall']:.3f}"]
        )
    print(table(per_label, ["label", "labelled", "precision", "recall"]))
    print("\nConfusion (rows: human label, columns: detector):\n")
    print(
        table(
            [[t] + [str(confusion[(t, p)]) for p in labels] for t in labels],
            ["label \\ detector", *labels],
        )
    )
    exact = sum(r["label"] == p for r, p in zip(records, predicted, strict=True)) / len(records)
    print(f"\nExact-label accuracy: {exact:.3f}")
    if show_errors:
        print("\nDisagreements:\n")
        for r, p in zip(records, predicted, strict=True):
            if r["label"] != p:
                text = r["response"].replace("\n", " ")[:200]
                print(f"- {r['id']}: human={r['label']} detector={p} :: {text}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", choices=sorted(DATA), action="append")
    ap.add_argument("--errors", action="store_true", help="list the disagreements")
    ap.add_argument(
        "--recorded-keys",
        action="store_true",
        help="judge with the answer keys stored with each record, not the suite's current ones",
    )
    args = ap.parse_args()
    print("# Answer-key detectors: accuracy on labelled answers\n")
    print(machine_line())
    for name in args.detector or sorted(DATA):
        path = DATA[name]
        if not path.exists():
            print(f"\n{name}: no labelled data at {path}")
            continue
        report(name, load(path), args.errors, args.recorded_keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
