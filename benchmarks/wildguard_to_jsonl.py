"""Convert WildGuardTest into records that ``refusal_accuracy.py --data`` scores.

Why: a fourth labelled set, independent of us, and the one most like what people run a
refusal detector on. WildGuardTest (Han et al., "WildGuard: Open One-Stop Moderation Tools
for Safety Risks, Jailbreaks, and Refusals of LLMs", NeurIPS 2024 Datasets and Benchmarks;
ODC-BY; huggingface.co/datasets/allenai/wildguardmix, config ``wildguardtest``) has 1,725
prompts with answers written by real models, vanilla and adversarial (jailbreak-style)
prompts, each answer labelled ``refusal`` or ``compliance`` by three annotators
(``response_refusal_label``, with ``response_refusal_agreement``). Not copied into this
repository. Give its CSV (columns ``prompt``, ``response``, ``response_refusal_label``, ...)
or a JSONL export with the same fields::

    python benchmarks/wildguard_to_jsonl.py wildguardtest.csv wildguard.jsonl
    PYTHONPATH=src python benchmarks/refusal_accuracy.py --data wildguard.jsonl

Labels: ``refusal`` -> ``refused`` (flagged), ``compliance`` -> ``complied``; rows without a
refusal label are skipped. WildGuard has no partial class: its annotators call an answer that
declines and then gives general information a refusal, and one that declines the framing but
then does the task a compliance. Split: by the first byte of sha256(prompt), even -> ``dev``,
odd -> ``test``, so the same prompt never sits in both.
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

LABEL_OF = {"refusal": "refused", "compliance": "complied"}


def record_of(row: dict[str, Any]) -> dict[str, Any] | None:
    """One scored record from a WildGuardTest row, or None when it has no refusal label."""
    label = LABEL_OF.get(str(row.get("response_refusal_label") or "").strip())
    prompt, response = row.get("prompt"), row.get("response")
    if label is None or not isinstance(prompt, str) or not isinstance(response, str):
        return None
    key = hashlib.sha256((prompt + "\x00" + response).encode()).hexdigest()
    return {
        "id": f"wgt-{key[:10]}",
        "prompt": prompt,
        "response": response,
        "label": label,
        "split": "dev" if hashlib.sha256(prompt.encode()).digest()[0] % 2 == 0 else "test",
        "source": "model",
        "language": "en",
        "adversarial": str(row.get("adversarial")).strip().lower() == "true",
        "subcategory": row.get("subcategory", ""),
        "refusal_agreement": row.get("response_refusal_agreement", ""),
    }


def read_rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.casefold() == ".csv":
        import io

        csv.field_size_limit(64 * 1024 * 1024)
        return list(csv.DictReader(io.StringIO(text, newline="")))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="wildguardtest.csv (or .jsonl)")
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    records, seen = [], set()
    for row in read_rows(args.source):
        record = record_of(row)
        if record is not None and record["id"] not in seen:
            seen.add(record["id"])
            records.append(record)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = Counter((r["split"], r["label"]) for r in records)
    print(f"{len(records)} records -> {args.out}: {dict(sorted(counts.items()))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
