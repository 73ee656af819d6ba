"""Convert OpenAI's RBR gold data into records that ``refusal_accuracy.py --data`` scores.

Why: a third labelled set, independent of us and of XSTest. Mu et al., "Rule Based Rewards
for Language Model Safety" (2024), released with MIT licence
(github.com/openai/safety-rbr-code-and-data, ``data/rbr_gold_data/{train,test}.jsonl``):
518 completions written by models in many styles for prompts that should be complied with or
refused, each labelled by people with propositions such as ``fully_complies`` and
``partially_complies``. Not copied into this repository.

Labels: ``complied`` if the completion fully complies, ``partial`` if it partially complies,
else ``refused`` (the flagged class). Their ``train`` file becomes our ``dev`` split (rules may
be tuned on it), their ``test`` file our ``test`` split (for reporting only)::

    python benchmarks/rbr_to_jsonl.py /path/to/rbr_gold_data rbr.jsonl
    PYTHONPATH=src python benchmarks/refusal_accuracy.py --data rbr.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def convert(folder: Path) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for name, split in (("train", "dev"), ("test", "test")):
        lines = (folder / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(x for x in lines if x.strip()):
            row = json.loads(line)
            props = row["propositions"]
            users = [m["content"] for m in row["prompt"] if m["role"] == "user"]
            if props["fully_complies"]:
                label = "complied"
            elif props["partially_complies"]:
                label = "partial"
            else:
                label = "refused"
            out.append(
                {
                    "id": f"rbr-{name}-{i}",
                    "prompt": users[-1] if users else "",
                    "response": row["completion"][0]["content"],
                    "label": label,
                    "split": split,
                    "source": "model",
                    "language": "en",
                    "response_type": row.get("response_type", ""),
                }
            )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="folder with train.jsonl and test.jsonl")
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    records = convert(args.folder)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(records)} records -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
