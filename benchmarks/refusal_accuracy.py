"""Accuracy of the ``refusal`` detector on human-labelled answers, next to garak and promptfoo.

Why: a refusal rate is only as good as the detector behind it. This prints, for the labelled
set in ``benchmarks/data/refusal_labelled.jsonl`` (see ``REFUSAL_LABELS.md``):

- binary precision / recall / F1 for *flagged* (refused or evasive) vs not, overall and per
  split (``dev`` was used for tuning, ``test`` never was), per source (real model answers vs
  hand-written ones) and per language;
- the 4-way confusion matrix (complied / partial / refused / evasive);
- the same binary metrics for garak's ``mitigation.MitigationBypass`` string detector and
  promptfoo's ``isRefusal`` helper, each run in its own process from its own install (we do
  not copy their phrase lists). A peer that is not installed is reported as skipped;
- throughput of our detector (verdicts per second).

    PYTHONPATH=src /work/venv/bin/python benchmarks/refusal_accuracy.py
    PYTHONPATH=src /work/venv/bin/python benchmarks/refusal_accuracy.py --no-peers --split test

Peers (installed outside the repo, see REFUSAL_LABELS.md):
    python3.11 -m venv /tmp/garakvenv && /tmp/garakvenv/bin/pip install garak==0.17.1
    npm install --prefix /tmp/pf promptfoo@0.121.20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE / "data" / "refusal_labelled.jsonl"
LABELS = ("complied", "partial", "refused", "evasive")
FLAGGED = {"refused", "evasive"}

GARAK_SCRIPT = r"""
import json, sys
import garak
from garak.attempt import Attempt, Message
from garak.detectors.mitigation import MitigationBypass, Prefixes
records = json.load(sys.stdin)
out = {"version": garak.__version__}
for name, cls in (("MitigationBypass", MitigationBypass), ("Prefixes", Prefixes)):
    det = cls()
    flagged = []
    for r in records:
        # lang "*": score the text as given (no translation step), like garak does for
        # probes whose language matches the detector's.
        a = Attempt(prompt=Message(text=r["prompt"], lang="*"))
        a.outputs = [Message(text=r["response"], lang="*")]
        score = det.detect(a)[0]
        # both detectors score 1.0 when NO refusal/mitigation string was found
        flagged.append(bool(score is not None and score < 0.5))
    out[name] = flagged
json.dump(out, sys.stdout)
"""

PROMPTFOO_SCRIPT = r"""
// Loads promptfoo's own bundled redteam util (the code behind its `is-refusal` assertion)
// from the install under argv[2] and applies isBasicRefusal / isEmptyResponse to the
// responses in the JSON file argv[3].
const fs = require('fs');
const path = require('path');
const root = path.join(process.argv[2], 'node_modules', 'promptfoo');
const pkg = require(path.join(root, 'package.json'));
const dir = path.join(root, 'dist', 'src');
const file = fs.readdirSync(dir).filter(f => f.endsWith('.cjs')).map(f => path.join(dir, f))
  .find(f => fs.readFileSync(f, 'utf8').includes('function isBasicRefusal('));
if (!file) { console.error('isBasicRefusal not found in promptfoo ' + pkg.version); process.exit(3); }
const util = require(file);
if (typeof util.isBasicRefusal !== 'function') { console.error('isBasicRefusal not exported'); process.exit(3); }
const records = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const flagged = records.map(r => Boolean(util.isBasicRefusal(r.response) ||
  (typeof util.isEmptyResponse === 'function' && util.isEmptyResponse(r.response))));
process.stdout.write(JSON.stringify({version: pkg.version, flagged}));
"""


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def binary(
    truth: Sequence[bool], pred: Sequence[bool], *, interval: bool = False
) -> dict[str, float]:
    """Precision, recall, F1 and counts; with ``interval``, F1's 95 % paired bootstrap interval
    too (``f1_low``, ``f1_high``; a fraction of a second each, so off in fitting loops)."""
    tp = sum(t and p for t, p in zip(truth, pred, strict=True))
    fp = sum(p and not t for t, p in zip(truth, pred, strict=True))
    fn = sum(t and not p for t, p in zip(truth, pred, strict=True))
    tn = len(truth) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = (tp + tn) / len(truth) if truth else 0.0
    out = {
        "n": len(truth),
        "positives": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": accuracy,
    }
    if interval:
        from allegiance.analysis.stats import f1_interval

        span = f1_interval(truth, pred)
        if span is not None:
            out["f1_low"], out["f1_high"] = span
    return out


def our_predictions(records: Sequence[dict[str, Any]]) -> tuple[list[str], float, float]:
    """Labels from our detector, and its throughput: verdicts per wall second and per CPU
    second of this process (the second is what the code costs on a shared machine)."""
    from allegiance.detectors.base import get_detector
    from allegiance.suites.model import Probe

    detector = get_detector("refusal")
    probes = [Probe.from_prompt(r["prompt"]) for r in records]
    labels = [detector(p, r["response"]).label for p, r in zip(probes, records, strict=True)]
    # throughput: repeat the whole set until at least ~2 s of CPU time have been spent
    rounds = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while True:
        for p, r in zip(probes, records, strict=True):
            detector(p, r["response"])
        rounds += 1
        cpu = time.process_time() - cpu0
        if cpu >= 2.0:
            break
    wall = time.perf_counter() - wall0
    return labels, rounds * len(records) / wall, rounds * len(records) / cpu


def _run_peer(
    name: str, command: list[str], env: dict[str, str], cwd: str, stdin: str | None = None
) -> dict[str, Any] | str:
    """Run one peer's script in its own process; its last stdout line is a JSON object.
    Returns that object, or the reason it was skipped."""
    proc = subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )
    if proc.returncode != 0:
        return f"skipped: {name} failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def run_garak(
    records: Sequence[dict[str, Any]], python: Path
) -> list[tuple[list[bool], str]] | str:
    """garak's own string detectors, run by garak's interpreter in a throwaway HOME."""
    if not python.exists():
        return f"skipped: {python} not found"
    payload = json.dumps([{"prompt": r["prompt"], "response": r["response"]} for r in records])
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HOME=tmp, XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_CACHE_HOME=tmp)
        env.pop("PYTHONPATH", None)
        data = _run_peer("garak", [str(python), "-c", GARAK_SCRIPT], env, tmp, stdin=payload)
    if isinstance(data, str):
        return data
    return [
        ([bool(x) for x in data[name]], f"garak {data['version']} {name}")
        for name in ("MitigationBypass", "Prefixes")
    ]


def run_promptfoo(records: Sequence[dict[str, Any]], root: Path) -> tuple[list[bool], str] | str:
    if not (root / "node_modules" / "promptfoo").exists():
        return f"skipped: promptfoo not installed under {root}"
    payload = json.dumps([{"response": r["response"]} for r in records])
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "pf_refusal.cjs"
        script.write_text(PROMPTFOO_SCRIPT, encoding="utf-8")
        data_file = Path(tmp) / "responses.json"
        data_file.write_text(payload, encoding="utf-8")
        env = dict(
            os.environ,
            HOME=tmp,
            PROMPTFOO_DISABLE_TELEMETRY="1",
            PROMPTFOO_CONFIG_DIR=tmp,
            # only 127.0.0.1 may be contacted: sinkhole anything promptfoo might send
            HTTPS_PROXY="http://127.0.0.1:9",
            HTTP_PROXY="http://127.0.0.1:9",
            NO_PROXY="127.0.0.1,localhost",
        )
        data = _run_peer("promptfoo", ["node", str(script), str(root), str(data_file)], env, tmp)
    if isinstance(data, str):
        return data
    return [bool(x) for x in data["flagged"]], f"promptfoo {data['version']} isBasicRefusal"


def peer_predictions(
    records: Sequence[dict[str, Any]], garak_python: Path, promptfoo_dir: Path
) -> tuple[dict[str, list[bool]], list[str]]:
    """Flags from each peer detector that ran, and a note for each one that did not."""
    predictions: dict[str, list[bool]] = {}
    notes: list[str] = []
    garak = run_garak(records, garak_python)
    if isinstance(garak, str):
        notes.append(f"garak: {garak}")
    else:
        for flagged, name in garak:
            predictions[name] = flagged
    promptfoo = run_promptfoo(records, promptfoo_dir)
    if isinstance(promptfoo, str):
        notes.append(f"promptfoo: {promptfoo}")
    else:
        predictions[promptfoo[1]] = promptfoo[0]
    return predictions, notes


def fmt(x: float) -> str:
    return f"{x:.3f}"


def metric_row(name: str, tool: str, m: dict[str, float], *, accuracy: bool = False) -> list[str]:
    """One table row: subset, detector, n, positives, precision, recall, F1 (, accuracy)."""
    row = [name, tool, str(m["n"]), str(m["positives"])]
    row += [fmt(m[k]) for k in ("precision", "recall", "f1")]
    if "f1_low" in m:
        row[-1] += f" [{fmt(m['f1_low'])}–{fmt(m['f1_high'])}]"
    return [*row, fmt(m["accuracy"])] if accuracy else row


def table(rows: Iterable[Sequence[str]], header: Sequence[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def sources(records: Sequence[dict[str, Any]]) -> list[str]:
    """The record sources present: "model", "handwritten", or a blind batch's name."""
    return sorted({str(r["source"]) for r in records})


def _unanimous(agreement: Any) -> bool:
    """WildGuardTest's agreement count (3 of 3 annotators), as "3.0", "3" or a number."""
    try:
        return float(agreement) == 3
    except (TypeError, ValueError):
        return False


def subsets(records: Sequence[dict[str, Any]]) -> list[tuple[str, list[int]]]:
    """(name, record indices): everything, each split, and each split by source; where the
    records say how many annotators agreed (WildGuardTest's ``refusal_agreement``), each
    split's unanimous answers too (a label 2 of 3 annotators gave is a noisier truth)."""
    out: list[tuple[str, list[int]]] = [("all", list(range(len(records))))]
    for split in ("dev", "test"):
        out.append((split, [i for i, r in enumerate(records) if r["split"] == split]))
        for source in sources(records):
            idx = [
                i for i, r in enumerate(records) if r["split"] == split and r["source"] == source
            ]
            out.append((f"{split} · {source}", idx))
        unanimous = [
            i
            for i, r in enumerate(records)
            if r["split"] == split and _unanimous(r.get("refusal_agreement"))
        ]
        if unanimous:
            out.append((f"{split} · unanimous (3 of 3 annotators)", unanimous))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", choices=("dev", "test"), help="only this split")
    ap.add_argument("--no-peers", action="store_true", help="skip garak and promptfoo")
    ap.add_argument("--garak-python", type=Path, default=Path("/tmp/garakvenv/bin/python"))
    ap.add_argument("--promptfoo-dir", type=Path, default=Path("/tmp/pf"))
    ap.add_argument("--errors", action="store_true", help="list the misclassified records")
    ap.add_argument("--json", type=Path, help="also write the metrics here")
    args = ap.parse_args()

    records = load(args.data)
    if args.split:
        records = [r for r in records if r["split"] == args.split]
    truth = [r["label"] in FLAGGED for r in records]
    ours, speed, cpu_speed = our_predictions(records)
    predictions: dict[str, list[bool]] = {"allegiance refusal": [x in FLAGGED for x in ours]}
    notes: list[str] = []
    if not args.no_peers:
        peers, notes = peer_predictions(records, args.garak_python, args.promptfoo_dir)
        predictions.update(peers)

    print("# Refusal detector accuracy\n")
    print(
        f"Date: {dt.datetime.now().isoformat(timespec='seconds')} · machine: {platform.node()} "
        f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}) · "
        f"data: {args.data.name} ({len(records)} answers)\n"
    )
    counts = Counter((r["source"], r["label"]) for r in records)
    print(
        table(
            [[src] + [str(counts[(src, lab)]) for lab in LABELS] for src in sources(records)],
            ["source", *LABELS],
        )
    )
    print("\n## Binary: flagged (refused or evasive) vs not\n")
    rows = []
    metrics: dict[str, Any] = {}
    for name, idx in subsets(records):
        if not idx:
            continue
        for tool, pred in predictions.items():
            m = binary([truth[i] for i in idx], [pred[i] for i in idx], interval=True)
            metrics[f"{name}/{tool}"] = m
            rows.append(metric_row(name, tool, m, accuracy=True))
    print(
        table(
            rows,
            ["subset", "detector", "n", "flagged", "precision", "recall", "F1 [95 %]", "accuracy"],
        )
    )
    for note in notes:
        print(f"\n- {note}")

    print("\n## Per language (allegiance refusal, all splits)\n")
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_lang[r["language"]].append(i)
    ours_flag = predictions["allegiance refusal"]
    lang_rows = []
    for lang in sorted(by_lang, key=lambda k: -len(by_lang[k])):
        idx = by_lang[lang]
        m = binary([truth[i] for i in idx], [ours_flag[i] for i in idx])
        lang_rows.append(
            [
                lang,
                str(m["n"]),
                str(m["positives"]),
                fmt(m["precision"]),
                fmt(m["recall"]),
                fmt(m["f1"]),
            ]
        )
    print(table(lang_rows, ["language", "n", "flagged", "precision", "recall", "F1"]))

    print("\n## 4-way confusion (rows: human label, columns: allegiance refusal)\n")
    confusion = Counter((r["label"], p) for r, p in zip(records, ours, strict=True))
    print(
        table(
            [[t] + [str(confusion[(t, p)]) for p in LABELS] for t in LABELS],
            ["label \\ predicted", *LABELS],
        )
    )
    exact = sum(r["label"] == p for r, p in zip(records, ours, strict=True)) / len(records)
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n4-way accuracy: {exact:.3f} · throughput (one process): {cpu_speed:,.0f} verdicts "
        f"per CPU-second, {speed:,.0f} per wall-second at load average {load_avg:.1f}"
    )

    if args.errors:
        print("\n## Errors\n")
        for r, p in zip(records, ours, strict=True):
            if (r["label"] in FLAGGED) != (p in FLAGGED) or r["label"] != p:
                text = r["response"].replace("\n", " ")[:220]
                print(f"- [{r['split']}] {r['id']}: human={r['label']} ours={p} :: {text}")

    if args.json:
        args.json.write_text(
            json.dumps(
                {"metrics": metrics, "verdicts_per_s": speed, "verdicts_per_cpu_s": cpu_speed},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
