"""The ``refusal`` detector on XSTest v2's human-labelled completions, next to garak and promptfoo.

Why: our own labelled set (``refusal_accuracy.py``) is labelled by the engineer who wrote the
detector. XSTest v2 (Röttger et al., NAACL 2024, CC-BY-4.0,
github.com/paul-rottger/exaggerated-safety) publishes 450 prompts × 5 models (GPT-4,
Llama-2-70b-chat with and without its original system prompt, Mistral-7B-Instruct with and
without a guardrail prompt), each completion labelled by two of the authors as full
compliance, full refusal or partial refusal. Those are independent human labels on answers
from models other than ours, in a different domain (safety refusals, not politics): the
closest thing we have to "data that is not in this repository".

Data is not copied into this repository. Give the folder holding the published CSVs
(``model_completions/xstest_v2_completions_*.csv``) or JSONL conversions of them::

    PYTHONPATH=src python benchmarks/refusal_xstest.py --data /path/to/model_completions

Split: prompts are divided once, by the first byte of sha256(prompt id), into ``dev`` (even)
and ``test`` (odd), the same prompts for every model. Rules and markers may be tuned while
looking at ``dev`` only; ``test`` is for reporting.

Metrics: binary precision/recall/F1 with the positive class "full refusal" (our ``refused``
or ``evasive``), per split and per model; and, as XSTest's paper also reports, with partial
refusals counted as refusals (ours: ``refused``, ``evasive`` or ``partial``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import machine_line  # noqa: E402
from refusal_accuracy import (  # noqa: E402
    binary,
    metric_row,
    peer_predictions,
    table,
)

LABEL_OF = {
    "1_full_compliance": "complied",
    "2_full_refusal": "refused",
    "3_partial_refusal": "partial",
}


def split_of(prompt_id: str) -> str:
    return "dev" if hashlib.sha256(prompt_id.encode()).digest()[0] % 2 == 0 else "test"


def load(folder: Path) -> list[dict[str, Any]]:
    """Records with prompt, response, label (ours), model, split, from CSVs or JSONL files."""
    records: list[dict[str, Any]] = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
            model = path.stem.removeprefix("xstest_v2_completions_")
        elif path.suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").split("\n")
            rows = [json.loads(line) for line in lines if line.strip()]
            model = path.stem
        else:
            continue
        for row in rows:
            label = LABEL_OF.get(str(row.get("final_label") or "").strip())
            if label is None or not isinstance(row.get("completion"), str):
                continue
            records.append(
                {
                    "id": f"{model}/{row['id']}",
                    "prompt": row["prompt"],
                    "response": row["completion"],
                    "label": label,
                    "type": row.get("type", ""),
                    "model": model,
                    "split": split_of(str(row["id"])),
                }
            )
    return records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="folder with the XSTest CSVs/JSONL")
    ap.add_argument("--split", choices=("dev", "test"), help="only this split")
    ap.add_argument("--no-peers", action="store_true", help="skip garak and promptfoo")
    ap.add_argument("--garak-python", type=Path, default=Path("/tmp/garakvenv/bin/python"))
    ap.add_argument("--promptfoo-dir", type=Path, default=Path("/tmp/pf"))
    ap.add_argument("--errors", action="store_true", help="list the misclassified records")
    args = ap.parse_args()

    from allegiance.detectors.base import get_detector
    from allegiance.suites.model import Probe

    records = load(args.data)
    if args.split:
        records = [r for r in records if r["split"] == args.split]
    if not records:
        print(f"no XSTest records under {args.data}", file=sys.stderr)
        return 2
    detector = get_detector("refusal")
    ours = [detector(Probe.from_prompt(r["prompt"]), r["response"]).label for r in records]
    predictions: dict[str, list[bool]] = {
        "allegiance refusal": [x in ("refused", "evasive") for x in ours]
    }
    predictions_partial: dict[str, list[bool]] = {
        "allegiance refusal": [x in ("refused", "evasive", "partial") for x in ours]
    }
    notes: list[str] = []
    if not args.no_peers:
        # peers only say refusal or not: the same flags serve both definitions of positive
        peers, notes = peer_predictions(records, args.garak_python, args.promptfoo_dir)
        predictions.update(peers)
        predictions_partial.update(peers)

    print("# Refusal detector on XSTest v2 (human labels by the XSTest authors)\n")
    print(machine_line() + "\n")
    counts = Counter((r["model"], r["label"]) for r in records)
    models = sorted({r["model"] for r in records})
    print(
        table(
            [
                [m] + [str(counts[(m, lab)]) for lab in ("complied", "partial", "refused")]
                for m in models
            ],
            ["model", "full compliance", "partial refusal", "full refusal"],
        )
    )
    groups: list[tuple[str, list[int]]] = []
    for split in ("dev", "test"):
        idx = [i for i, r in enumerate(records) if r["split"] == split]
        if idx:
            groups.append((split, idx))
    for split in ("dev", "test"):
        for m in models:
            idx = [i for i, r in enumerate(records) if r["split"] == split and r["model"] == m]
            if idx:
                groups.append((f"{split} · {m}", idx))
    for title, truth_labels, preds in (
        ("positive = full refusal", ("refused",), predictions),
        ("positive = full or partial refusal", ("refused", "partial"), predictions_partial),
    ):
        truth = [r["label"] in truth_labels for r in records]
        print(f"\n## {title}\n")
        rows = []
        for name, idx in groups:
            for tool, pred in preds.items():
                if tool != "allegiance refusal" and "·" in name:
                    continue  # peers: per split only, to keep the table short
                m = binary([truth[i] for i in idx], [pred[i] for i in idx], interval=True)
                rows.append(metric_row(name, tool, m))
        print(
            table(
                rows, ["subset", "detector", "n", "positives", "precision", "recall", "F1 [95 %]"]
            )
        )
    for note in notes:
        print(f"\n- {note}")
    confusion = Counter((r["label"], p) for r, p in zip(records, ours, strict=True))
    print("\n## Confusion (rows: XSTest label, columns: ours)\n")
    labels = ("complied", "partial", "refused", "evasive")
    print(
        table(
            [
                [t] + [str(confusion[(t, p)]) for p in labels]
                for t in ("complied", "partial", "refused")
            ],
            ["label \\ ours", *labels],
        )
    )
    if args.errors:
        print("\n## Errors (binary, full refusal)\n")
        for r, p in zip(records, ours, strict=True):
            if (r["label"] == "refused") != (p in ("refused", "evasive")):
                text = r["response"].replace("\n", " ")[:260]
                print(
                    f"- [{r['split']}] {r['id']} ({r['type']}): xstest={r['label']} ours={p} :: "
                    f"{r['prompt'][:80]!r} => {text}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
