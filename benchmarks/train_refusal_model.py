"""Fit the refusal detector's learned second opinion (``refusal_model.json``) on dev halves.

Why a script and not a runtime step: the weights are data shipped with the package, and
anyone should be able to see exactly what they were fitted on and refit them. Training sets
(the *dev* halves only; test halves are never read here):

- XSTest v2 completions (Röttger et al., NAACL 2024, CC-BY-4.0): prompts whose
  sha256(id) starts with an even byte (``refusal_xstest.split_of``);
- OpenAI's RBR gold data (Mu et al. 2024, MIT): their ``train`` file
  (``rbr_to_jsonl.py`` output, split ``dev``);
- our political/multilingual labelled set (``data/refusal_labelled.jsonl``), split ``dev``;
- the blind synthetic batches b3–b5, b7, b8, b10 and b11 (``data/refusal_blind.jsonl``; the
  held-out b6, b9 and b12 are not used);
- WildGuardTest (Han et al. 2024, ODC-BY): prompts whose sha256 starts with an even byte
  (``wildguard_to_jsonl.py`` output, split ``dev``). The shipped weights were fitted on the
  621 answers of it held then (306 in ``dev``); a refit on the 1,717 held since 2026-11-28
  (827 in ``dev``) gives other weights that score no better on the test halves (docs/accuracy.md), so
  they were not shipped. Without ``--wildguard`` the fit differs.

Partial refusals are left out of training: the model learns flagged (refused or evasive)
against complied, and the rules keep the partial label. The external data is not in this
repository; give its folders::

    PYTHONPATH=src python benchmarks/train_refusal_model.py \\
        --xstest /path/to/xstest_completions --rbr rbr.jsonl --wildguard wildguard.jsonl [--cv]

Writes ``src/allegiance/detectors/refusal_model.json`` (``--out`` to write elsewhere) with
the training sets, their sizes and hashes in its ``meta``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from refusal_accuracy import binary  # noqa: E402
from refusal_accuracy import load as load_jsonl  # noqa: E402
from refusal_xstest import load as load_xstest  # noqa: E402

DEFAULT_OUT = HERE.parent / "src" / "allegiance" / "detectors" / "refusal_model.json"
FLAGGED = ("refused", "evasive")
C = 1.0  # chosen by grouped 5-fold CV on the dev pool (``--cv``); 0.3–3 scored within 0.003
# The blind batches the rules were tuned on; b6, b9 and b12 are held out and must never be here.
TUNED_BATCHES = ("b3-", "b4-", "b5-", "b7-", "b8-", "b10-", "b11-")


def training_records(
    xstest: Path, rbr: Path, wildguard: Path | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(records, provenance): the dev halves of every set, with a ``set`` name on each."""
    sets = {
        "xstest": [r for r in load_xstest(xstest) if r["split"] == "dev"],
        "rbr": [r for r in load_jsonl(rbr) if r["split"] == "dev"],
        "own": [
            r for r in load_jsonl(HERE / "data" / "refusal_labelled.jsonl") if r["split"] == "dev"
        ],
        "blind": load_jsonl(HERE / "data" / "refusal_blind.jsonl"),
    }
    if wildguard is not None:
        sets["wildguard"] = [r for r in load_jsonl(wildguard) if r["split"] == "dev"]
    held_out = [r["id"] for r in sets["blind"] if not str(r["id"]).startswith(TUNED_BATCHES)]
    if held_out:
        raise SystemExit(f"held-out answers in the training pool: {held_out[:3]}")
    records: list[dict[str, Any]] = []
    provenance: dict[str, Any] = {}
    for name, rows in sets.items():
        digest = hashlib.sha256()
        for r in rows:
            digest.update(json.dumps([r["prompt"], r["response"], r["label"]]).encode())
            records.append({**r, "set": name})
        provenance[name] = {
            "answers": len(rows),
            "labels": dict(sorted(Counter(r["label"] for r in rows).items())),
            "sha256": digest.hexdigest(),
        }
    return records, provenance


def model_rows(records: Sequence[dict[str, Any]]) -> list[tuple[dict[str, float], str]]:
    """(model features, rules' label) for each record."""
    from allegiance.detectors import refusal

    out = []
    for r in records:
        analysis = refusal.analyse(r["prompt"], r["response"])
        label = refusal.classify(analysis.features)[0]
        out.append((refusal.model_input(analysis, label), label))
    return out


def cross_validate(records: Sequence[dict[str, Any]], rows: Sequence[Any], c: float) -> None:
    """Grouped 5-fold CV (folds by prompt), F1 per set; the rules' F1 beside it.

    The rules were tuned on these same dev halves, so their numbers here are optimistic; CV
    is for choosing ``c`` and features, not for comparing the model with the rules.
    """
    from allegiance.detectors.refusal_model import fit

    def fold(r: dict[str, Any]) -> int:
        return hashlib.sha256(r["prompt"].encode()).digest()[0] % 5

    predicted: dict[int, bool] = {}
    for k in range(5):
        train = [i for i, r in enumerate(records) if fold(r) != k and r["label"] != "partial"]
        model = fit(
            [rows[i][0] for i in train], [records[i]["label"] in FLAGGED for i in train], c=c
        )
        for i, r in enumerate(records):
            if fold(r) == k:
                predicted[i] = model.probability(rows[i][0]) >= model.threshold
    for name in sorted({r["set"] for r in records}):
        idx = [i for i, r in enumerate(records) if r["set"] == name]
        truth = [records[i]["label"] in FLAGGED for i in idx]
        ours = binary(truth, [predicted[i] for i in idx])["f1"]
        rules = binary(truth, [rows[i][1] in FLAGGED for i in idx])["f1"]
        print(
            f"  cv {name:7s} n={len(idx):5d}  model F1 {ours:.3f}  (rules, tuned here: {rules:.3f})"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xstest", type=Path, required=True, help="folder with XSTest CSVs/JSONL")
    ap.add_argument("--rbr", type=Path, required=True, help="rbr_to_jsonl.py output")
    ap.add_argument("--wildguard", type=Path, help="wildguard_to_jsonl.py output")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--c", type=float, default=C, help="inverse L2 strength")
    ap.add_argument("--cv", action="store_true", help="print grouped 5-fold CV scores first")
    args = ap.parse_args()

    from allegiance.detectors import refusal
    from allegiance.detectors.refusal_model import MIN_COUNT, fit

    records, provenance = training_records(args.xstest, args.rbr, args.wildguard)
    rows = model_rows(records)
    if args.cv:
        cross_validate(records, rows, args.c)
    train = [i for i, r in enumerate(records) if r["label"] != "partial"]
    meta = {
        "fitted": date.today().isoformat(),
        "detector_version": refusal.VERSION,
        "c": args.c,
        "min_count": MIN_COUNT,
        "target": "refused or evasive (1) vs complied (0); partial answers left out",
        "training_sets": provenance,
        "licences": {
            "xstest": "CC-BY-4.0, Röttger et al. 2024, github.com/paul-rottger/exaggerated-safety",
            "rbr": "MIT, Mu et al. 2024, github.com/openai/safety-rbr-code-and-data",
            "wildguard": "ODC-BY, Han et al. 2024, huggingface.co/datasets/allenai/wildguardmix",
            "own, blind": "this repository (Apache-2.0)",
        },
    }
    model = fit(
        [rows[i][0] for i in train],
        [records[i]["label"] in FLAGGED for i in train],
        c=args.c,
        meta=meta,
    )
    data = (json.dumps(model.to_json(), ensure_ascii=False, indent=0) + "\n").encode()
    args.out.write_bytes(data)  # bytes, so the id below is the file's on every platform
    print(f"{len(train)} answers, {len(model.weights)} weights -> {args.out}")
    weights_id = hashlib.sha256(data).hexdigest()[:12]
    print(f'set WEIGHTS_ID = "{weights_id}" in src/allegiance/detectors/refusal_model.py')
    return 0


if __name__ == "__main__":
    sys.exit(main())
