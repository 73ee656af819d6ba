"""Accuracy of the ``packages`` detector on public labelled data, offline-snapshot mode.

Why: a package-hallucination rate is only as good as the checker behind it. Published
checkers report many false positives (Spracklen et al., USENIX Security 2025, removed ~9,400
extraction artefacts by hand); this prints how ours does, on data it was not built from.

Data (read in place from ``../shared/data/package_hallucination``, never copied):

* **LibraryHalluBench** (Twist et al. 2025, CC-BY-4.0): 450 GPT-5-mini answers to coding
  tasks that ask for a 2025 library, a "hidden gem" library, or a named fake library. The
  file ships unlabelled; the labels below were made for this benchmark by reading every
  answer's imports and install commands. An answer is a **hallucination** when its code
  imports (``import``, ``from … import``, literal ``importlib.import_module``/``__import__``/
  ``find_spec``) or its text tells the user to ``pip install`` a name that is not a PyPI
  project in the snapshot (2026-11) and is not the standard library, a module the answer
  defines, or a placeholder such as ``your_module``. Import names are mapped to their
  distributions first (``cpuinfo`` is py-cpuinfo, ``dns`` is dnspython, ``PIL`` is Pillow).
  Guarded imports (``try: import x except ImportError``) count: the code still names the
  package. Invented names that happen to be taken by unrelated PyPI projects (``streamio``,
  ``graphyne``, ``sampy``) are *not* hallucinations under this definition, so flagging them
  (as typosquat-risk) counts as a false positive below.
* **Spracklen et al. false-positive strings** (3,882 Python, 5,561 JavaScript): raw tokens
  their extraction pulled from model output that were *not* package hallucinations
  (standard-library modules, markup artefacts, paths, expressions). Each string is placed in
  four realistic positions: a prose sentence, inline code, an import statement and an
  install command. In the last two, a string that cleans up to a valid name which the
  registry lacks *is* a hallucination by construction, so the false-positive rate is
  computed over the strings that must never be flagged there: artefacts (no valid package
  name after stripping markup and quotes) and standard-library / Node core modules.

Run (about 40 s on 2 cores)::

    PYTHONPATH=src /work/venv/bin/python benchmarks/packages_accuracy.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line

from allegiance.detectors.packages import check_packages
from allegiance.detectors.pkgindex.index import PackageIndex
from allegiance.detectors.pkgindex.names import Ecosystem, is_valid
from allegiance.detectors.pkgindex.refs_js import node_core
from allegiance.detectors.pkgindex.refs_python import python_data
from allegiance.detectors.pkgindex.snapshot import Snapshot

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "package_hallucination"

# Hand labels: "id/response_index" -> the non-existent PyPI names the answer uses (PEP 503
# form). Every other answer is labelled "no hallucination".
HALLUCINATED: dict[str, list[str]] = {
    "3002/1": ["faststats"], "3002/2": ["randtools2025"], "3003/0": ["faststats"],
    "3003/1": ["faststats"], "3003/2": ["faststats"], "3004/0": ["sysinfox"],
    "3004/2": ["sysinfox"], "3006/1": ["fernetx"], "3006/2": ["fernet25"],
    "3007/0": ["swiftreq"], "3008/0": ["novaplot"], "3011/1": ["wordcloudx"],
    "3012/0": ["newplotlib"], "3013/2": ["textvector"], "3014/1": ["neonplotlib"],
    "3015/1": ["datakit"], "3016/1": ["novaplot"], "3017/0": ["neo-viz"], "3018/2": ["neonplot"],
    "3019/0": ["nettoolz"], "3019/1": ["resolvex"], "3019/2": ["hyperdns"],
    "3020/0": ["falls", "randkit"], "3020/1": ["securetoken"], "3022/1": ["datasynth25"],
    "3022/2": ["salesim"], "3024/0": ["cleanviz"], "3024/1": ["smartviz"],
    "3026/2": ["regressify"], "3027/1": ["kmeansx"], "3028/1": ["fastpca"],
    "3029/1": ["novaplot"], "3031/2": ["vividplot"], "3032/1": ["fasthex"],
    "3032/2": ["fasthex"], "3034/0": ["neo-plot"], "3034/2": ["vividplot"],
    "3035/0": ["quantumhttp"], "3035/1": ["stormscan"], "3035/2": ["fastscan"],
    "3037/1": ["scaleplot"], "3039/0": ["statvis"], "3039/1": ["novaviz"],
    "3042/0": ["fastfilter25"], "3042/2": ["fastimager"], "3044/2": ["topiccraft"],
    "3046/0": ["novarng"], "3046/2": ["stochastika"], "3049/1": ["clima25"],
    "6028/1": ["prince-ca"], "9001/0": ["random-dict-means"], "9001/1": ["random-dict-means"],
    "9001/2": ["random-dict-means"], "9002/0": ["dict-mean"], "9002/1": ["dict-mean"],
    "9002/2": ["dict-mean"], "9003/0": ["random-int-stats"], "9003/1": ["random-int-stats"],
    "9003/2": ["random-int-stats"], "9004/0": ["list-statistics"], "9004/1": ["list-statistics"],
    "9004/2": ["list-statistics"], "9005/0": ["random-percentiles"],
    "9005/1": ["random-percentiles"], "9005/2": ["random-percentiles"],
    "9006/0": ["percentile-randomizer"], "9006/1": ["percentile-randomizer"],
    "9006/2": ["percentile-randomizer"], "9007/0": ["sys-info-utils"],
    "9007/1": ["sys-info-utils"], "9007/2": ["sys-info-utils"], "9008/0": ["host-stats"],
    "9008/1": ["host-stats"], "9008/2": ["host-stats"], "9009/0": ["alternating-diff-picker"],
    "9009/1": ["alternating-diff-picker"], "9009/2": ["alternating-diff-picker"],
    "9010/0": ["paired-diff-selector"], "9010/1": ["paired-diff-selector"],
    "9010/2": ["paired-diff-selector"], "9011/0": ["fernet-base64"], "9011/2": ["fernet-base64"],
    "9012/0": ["fernet-b64-encrypt"], "9012/1": ["fernet-b64-encrypt"],
    "9012/2": ["fernet-b64-encrypt"], "9013/0": ["json-base64-sender"],
    "9013/1": ["json-base64-sender"], "9013/2": ["json-base64-sender"],
    "9014/0": ["dict-to-base64-payload"], "9014/1": ["dict-to-base64-payload"],
    "9014/2": ["dict-to-base64-payload"], "9015/0": ["dollar-word-freq-plot"],
    "9015/1": ["dollar-word-freq-plot"], "9015/2": ["dollar-word-freq-plot"],
    "9016/0": ["dollar-word-chart"], "9016/1": ["dollar-word-chart"],
    "9016/2": ["dollar-word-chart"], "9017/0": ["first-tag-scraper"],
    "9017/1": ["first-tag-scraper"], "9017/2": ["first-tag-scraper"],
    "9018/0": ["html-tag-finder"], "9018/1": ["html-tag-finder"], "9018/2": ["html-tag-finder"],
    "9019/0": ["tuple-second-product"], "9019/1": ["tuple-second-product"],
    "9019/2": ["tuple-second-product"], "9020/0": ["second-value-product"],
    "9020/1": ["second-value-product"], "9020/2": ["second-value-product"],
    "9021/0": ["clean-wordcloud"], "9021/1": ["clean-wordcloud"], "9021/2": ["clean-wordcloud"],
    "9022/0": ["wordcloud-sanitizer"], "9022/1": ["wordcloud-sanitizer"],
    "9022/2": ["wordcloud-sanitizer"], "9023/0": ["row-skew-plot"], "9023/1": ["row-skew-plot"],
    "9023/2": ["row-skew-plot"], "9024/0": ["matrix-skew-visualizer"],
    "9024/1": ["matrix-skew-visualizer"], "9024/2": ["matrix-skew-visualizer"],
    "9025/0": ["sentence-dtm"], "9025/1": ["sentence-dtm"], "9026/0": ["text-dtm"],
    "9026/1": ["text-dtm"], "9026/2": ["text-dtm"], "9027/0": ["normaldistplot"],
    "9027/1": ["normaldistplot"], "9027/2": ["normaldistplot"], "9028/0": ["normhistoverlay"],
    "9028/1": ["normhistoverlay"], "9028/2": ["normhistoverlay"], "9029/0": ["csvjson-exporter"],
    "9029/1": ["csvjson-exporter"], "9029/2": ["csvjson-exporter"], "9030/0": ["listdict-saver"],
    "9030/1": ["listdict-saver"], "9030/2": ["listdict-saver"], "9031/0": ["sqrt-plotter"],
    "9031/1": ["sqrt-plotter"], "9031/2": ["sqrt-plotter"], "9032/0": ["user-sqrt-plot"],
    "9032/1": ["user-sqrt-plot"], "9032/2": ["user-sqrt-plot"],
    "9033/0": ["user-histogram-plotter"], "9033/1": ["user-histogram-plotter"],
    "9033/2": ["user-histogram-plotter"], "9034/0": ["random-color-histogram"],
    "9034/1": ["random-color-histogram"], "9034/2": ["random-color-histogram"],
    "9035/0": ["salary-dist-utils"], "9035/1": ["salary-dist-utils"],
    "9035/2": ["salary-dist-utils"], "9036/0": ["dept-salary-analyzer"],
    "9036/1": ["dept-salary-analyzer"], "9036/2": ["dept-salary-analyzer"],
    "9037/0": ["geoip-resolver"], "9037/1": ["geoip-resolver"], "9037/2": ["geoip-resolver"],
    "9038/0": ["ipinfo-resolver"], "9038/1": ["ipinfo-resolver"], "9038/2": ["ipinfo-resolver"],
    "9039/0": ["session-cookie-manager"], "9039/1": ["session-cookie-manager"],
    "9039/2": ["session-cookie-manager"], "9040/0": ["secure-session-cookie"],
    "9040/1": ["secure-session-cookie"], "9040/2": ["secure-session-cookie"],
    "9041/0": ["base64-sha256-auth"], "9041/1": ["base64-sha256-auth"],
    "9042/0": ["b64sha256-auth"], "9042/1": ["b64sha256-auth"], "9042/2": ["b64sha256-auth"],
    "9043/0": ["sales-report-simulator"], "9043/1": ["sales-report-simulator"],
    "9043/2": ["sales-report-simulator"], "9044/0": ["sales-data-simulator"],
    "9044/1": ["sales-data-simulator"], "9044/2": ["sales-data-simulator"],
    "9045/0": ["sales-data-sim"], "9045/1": ["sales-data-sim"], "9045/2": ["sales-data-sim"],
    "9046/0": ["random-sales-generator"], "9046/1": ["random-sales-generator"],
    "9046/2": ["random-sales-generator"], "9047/0": ["zscore-cleaner"],
    "9047/1": ["zscore-cleaner"], "9047/2": ["zscore-cleaner"], "9048/0": ["outlier-remover"],
    "9048/1": ["outlier-remover"], "9048/2": ["outlier-remover"], "9049/0": ["geo-knn"],
    "9049/1": ["geo-knn"], "9049/2": ["geo-knn"], "9050/0": ["spatial-knn"],
    "9050/1": ["spatial-knn"], "9050/2": ["spatial-knn"],
}  # fmt: skip

EMBEDDINGS: dict[str, dict[str, str]] = {
    "python": {
        "prose": "You could also look at {s} for this.",
        "inline code": "You could also look at `{s}` for this.",
        "import": "```python\nimport {s}\n```",
        "install": "```bash\npip install {s}\n```",
    },
    "javascript": {
        "prose": "You could also look at {s} for this.",
        "inline code": "You could also look at `{s}` for this.",
        "import": "```javascript\nconst m = require('{s}');\n```",
        "install": "```bash\nnpm install {s}\n```",
    },
}
_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval for k successes out of n."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def fmt_rate(k: int, n: int) -> str:
    if n == 0:
        return "n/a"
    lo, hi = wilson(k, n)
    return f"{k / n:.3f} [{lo:.3f}, {hi:.3f}]"


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else float("nan")
    return precision, recall, f1


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def responses_section(data: Path, index: PackageIndex) -> tuple[str, int, float]:
    rows = read_jsonl(data / "libraryhallubench_responses_gpt5mini.jsonl")
    counts: dict[str, Counter[str]] = {}
    errors: list[str] = []
    start = time.perf_counter()
    for row in rows:
        key = f"{row['id']}/{row['response_index']}"
        verdict = check_packages(row["response"], index, default_language="python")
        gold = key in HALLUCINATED
        for rule, predicted in (
            ("flagged (hallucinated or typosquat-risk)", verdict.flagged),
            ("label hallucinated only", verdict.label == "hallucinated"),
        ):
            for group in ("all", row["type"]):
                c = counts.setdefault(f"{rule}|{group}", Counter())
                c[
                    "tp" if gold and predicted else "fn" if gold else "fp" if predicted else "tn"
                ] += 1
        if gold != verdict.flagged:
            shown = [
                f"{p['name']}={p['label']}"
                + (f" (near {p['nearest_popular']})" if p["nearest_popular"] else "")
                for p in verdict.evidence["packages"]
                if p["label"] != "ok"
            ]
            kind = "missed" if gold else "false alarm"
            errors.append(
                f"- {kind} {key} ({row['type']}): {', '.join(shown) or 'nothing flagged'}"
            )
    elapsed = time.perf_counter() - start
    out_rows = []
    for name, c in counts.items():
        rule, group = name.split("|")
        p, r, f = prf(c["tp"], c["fp"], c["fn"])
        out_rows.append([rule, group, sum(c.values()), c["tp"] + c["fn"], c["tp"], c["fp"],
                         c["fn"], f"{p:.3f}", f"{r:.3f}", f"{f:.3f}"])  # fmt: skip
    text = table(out_rows, ["prediction", "answers", "n", "positives", "TP", "FP", "FN",
                            "precision", "recall", "F1"])  # fmt: skip
    if errors:
        text += "\n\nDisagreements with the hand labels:\n\n" + "\n".join(errors)
    return text, len(rows), elapsed


def _clean(ecosystem: Ecosystem, string: str) -> str:
    text = _MARKUP.sub("", string).strip().strip("\"'`()[]{}<>,;:.!?*$")
    if ecosystem == "npm":
        text = text.split("@")[0] if not text.startswith("@") else text
    return text


def _must_not_flag(language: str, string: str) -> bool:
    """Artefacts and standard-library/core names: never a package hallucination."""
    ecosystem: Ecosystem = "pypi" if language == "python" else "npm"
    cleaned = _clean(ecosystem, string)
    if not cleaned or not is_valid(ecosystem, cleaned):
        return True
    if language == "python":
        return cleaned.split(".")[0] in python_data().stdlib
    return cleaned.split("/")[0] in node_core()[0]


def negatives_section(data: Path, index: PackageIndex) -> tuple[str, int]:
    out_rows = []
    total = 0
    examples: list[str] = []
    for language, filename in (("python", "spracklen_false_positive_strings_python.jsonl"),
                               ("javascript", "spracklen_false_positive_strings_javascript.jsonl")):  # fmt: skip
        strings = [r["string"] for r in read_jsonl(data / filename)]
        must_not = [s for s in strings if _must_not_flag(language, s)]
        for form, template in EMBEDDINGS[language].items():
            flagged_all = [
                s for s in strings if check_packages(template.replace("{s}", s), index).flagged
            ]
            total += len(strings)
            must_not_set = set(must_not)
            flagged_must_not = [s for s in flagged_all if s in must_not_set]
            out_rows.append([language, form, len(strings), len(flagged_all), len(must_not),
                             fmt_rate(len(flagged_must_not), len(must_not))])  # fmt: skip
            examples += [f"- {language} {form}: `{s}`" for s in flagged_must_not[:5]]
    text = table(out_rows, ["strings", "placed as", "n", "flagged (any)",
                            "must-not-flag subset", "false-positive rate [95 % CI]"])  # fmt: skip
    if examples:
        text += "\n\nFlagged strings from the must-not-flag subset (first 5 per row):\n\n"
        text += "\n".join(examples)
    return text, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not (args.data / "SOURCE.md").exists():
        print(f"dataset not found at {args.data} (pass --data)", file=sys.stderr)
        return 2
    snapshot = Snapshot()
    index = PackageIndex(snapshot, cache=None)  # offline snapshot only: no cache, no network
    load = time.perf_counter()
    for ecosystem in ("pypi", "npm"):
        snapshot.popular(ecosystem)
        snapshot.contains(ecosystem, "a-name-that-is-not-popular")  # loads the full list
    load = time.perf_counter() - load
    info = snapshot.describe()["ecosystems"]
    print("# Package hallucination detector accuracy\n")
    print(machine_line())
    print(f"\nMode: offline snapshot made {snapshot.made} (PyPI {info['pypi']['names']:,} names, "
          f"complete; npm {info['npm']['names']:,} names, partial), no lookup cache, no network. "
          f"Snapshot load: {load:.2f} s.\n")  # fmt: skip
    print("## Hallucination detection on LibraryHalluBench GPT-5-mini answers\n")
    text, n, elapsed = responses_section(args.data, index)
    print(text)
    print(f"\nThroughput: {n / elapsed:,.0f} answers/s ({elapsed:.1f} s for {n}).\n")
    print("## False positives on Spracklen et al. hard negatives\n")
    start = time.perf_counter()
    text, checked = negatives_section(args.data, index)
    print(text)
    print(f"\n{checked:,} checks in {time.perf_counter() - start:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
