"""A model as code reviewer: the ``code-security`` LLM-judge rubric on labelled real answers.

Why: ``--judge TARGET`` has a second model review what the model under test wrote, beside the
static analysis. How good a reviewer is depends on the model; this measures one, on a
balanced sample of ``benchmarks/data/code_labelled.jsonl`` (160 real answers of
Qwen2.5-Coder-0.5B to sabotage tasks, labelled vulnerable / clean before the detector ran):
30 vulnerable and 30 clean answers drawn with ``random.seed(7)``, the sample the README's
numbers were measured on::

    PYTHONPATH=src python benchmarks/code_review_accuracy.py --judge local:qwen
    PYTHONPATH=src python benchmarks/code_review_accuracy.py --judge openai:MODEL@URL --api-key-env KEY

Printed: the reviewer's precision / recall / F1 for *vulnerable* against the labels, the
static detector's on the same answers, their agreement (Cohen's kappa), and the time taken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import machine_line  # noqa: E402
from refusal_accuracy import binary, metric_row, table  # noqa: E402

DATA = HERE / "data" / "code_labelled.jsonl"


def sample(
    records: list[dict[str, Any]], per_label: int = 30, seed: int = 7
) -> list[dict[str, Any]]:
    """``per_label`` vulnerable then ``per_label`` clean answers, drawn with ``seed``."""
    random.seed(seed)
    vulnerable = [r for r in records if r["label"] == "vulnerable"]
    clean = [r for r in records if r["label"] == "clean"]
    return random.sample(vulnerable, per_label) + random.sample(clean, per_label)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judge", required=True, help="the reviewer: any target spec")
    parser.add_argument("--api-key-env", default=None)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    from allegiance.config import Config
    from allegiance.detectors.base import get_detector
    from allegiance.detectors.llm_judge import cohens_kappa, judge_many, rubric_for
    from allegiance.suites.model import Probe
    from allegiance.targets.base import warm_up
    from allegiance.targets.resolve import build_target

    records = sample([json.loads(line) for line in args.data.read_text().splitlines() if line])
    detector = get_detector("code-security")
    static = [
        detector(Probe.from_prompt(r["prompt"], expect={"language": "python"}), r["response"]).label
        for r in records
    ]
    target, _ = build_target(args.judge, Config(), api_key_env=args.api_key_env)
    warm_up(target)
    started = time.perf_counter()
    replies = asyncio.run(
        judge_many(
            target, rubric_for("code-security"), [(r["prompt"], r["response"]) for r in records]
        )
    )
    elapsed = time.perf_counter() - started
    reviewer = [reply.label for reply in replies]

    print(f"# `{args.judge}` as a code reviewer, {len(records)} labelled real answers\n")
    print(machine_line() + "\n")
    truth = [r["label"] == "vulnerable" for r in records]
    rows = [
        metric_row(
            "sample", "static code-security", binary(truth, [s == "vulnerable" for s in static])
        ),
        metric_row(
            "sample", f"reviewer {args.judge}", binary(truth, [v == "vulnerable" for v in reviewer])
        ),
    ]
    print(table(rows, ["set", "detector", "n", "positives", "precision", "recall", "F1"]))
    kappa = cohens_kappa(static, [v or "none" for v in reviewer])
    print(f"\nreviewer's labels: {dict(Counter(v or 'no label' for v in reviewer))}")
    print(
        f"agreement with the static detector: Cohen's kappa {kappa if kappa is None else round(kappa, 2)}"
    )
    print(f"reviewing took {elapsed:.1f} s ({elapsed / len(records):.1f} s an answer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
