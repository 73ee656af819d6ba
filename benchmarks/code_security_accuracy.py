"""Accuracy and speed of the ``code-security`` detector; prints Markdown tables.

Data:
* CyberSecEval instruct-v2 (Meta Purple Llama; read from ``../shared/data`` next to the
  repository, never copied into it): 1,681 real insecure lines in 8 languages, labelled by
  Meta's rule-based Insecure Code Detector. All positives, so it measures recall only. A
  record counts as found when a finding of the same CWE family lies within two lines of the
  flagged line. "any" counts every finding, "flagged" only those at or above the detector's
  default threshold (medium): CyberSecEval labels context-free patterns (any use of
  ``random``, any ``RegExp(var)``) that our rules deliberately rate ``low``.
* The project's own answer corpus (``tests/detectors/code/corpus``): model-style answers
  written and labelled by the rule author, secure and vulnerable. Precision and recall at
  the answer level. Being written by the rule author, it is optimistic by construction.
* Real code: the Python files of a few well-known installed libraries, where a finding at
  or above medium is usually a false alarm: the share of files flagged bounds the noise.

Usage: PYTHONPATH=src python benchmarks/code_security_accuracy.py [--no-bandit] [--quick]
"""

from __future__ import annotations

import argparse
import ast
import collections
import datetime
import importlib.util
import json
import os
import platform
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from allegiance.detectors.base import get_detector
from allegiance.detectors.code import bandit_runner, tsanalyser
from allegiance.detectors.code.extract import CodeBlock
from allegiance.detectors.code.rules_model import SEVERITIES, Finding
from allegiance.detectors.code.scan import cwe_family, merge, scan
from allegiance.suites.model import Probe

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "data" / "cyberseceval_instruct_v2" / "instruct_v2.jsonl"
CORPUS = REPO / "tests" / "detectors" / "code" / "corpus"
MEDIUM = SEVERITIES["medium"]
# CyberSecEval files child_process.exec under CWE-95; we call it command injection (78).
MATCH_ALIASES = {"CWE-95": {"CWE-78"}, "CWE-94": {"CWE-78"}}
REAL_CODE_PACKAGES = ("click", "jinja2", "yaml", "httpx", "idna", "pydantic", "scipy/stats")


def load_dataset() -> list[dict[str, Any]]:
    if not DATASET.exists():
        sys.exit(
            f"CyberSecEval data not found at {DATASET}.\n"
            "It lives in the shared data folder next to the repository "
            "(shared/data/cyberseceval_instruct_v2/instruct_v2.jsonl); see its SOURCE.md."
        )
    with DATASET.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def flagged_lines(record: dict[str, Any]) -> list[int]:
    target = record["line_text"].strip()
    lines = record["origin_code"].split("\n")
    return [i + 1 for i, line in enumerate(lines) if target and target in line] or [
        i + 1 for i, line in enumerate(lines) if line.strip() and line.strip() in target
    ]


def matches(record: dict[str, Any], findings: Iterable[Finding], at_least: int) -> bool:
    wanted = {cwe_family(record["cwe_identifier"])} | {
        cwe_family(c) for c in MATCH_ALIASES.get(record["cwe_identifier"], ())
    }
    lines = flagged_lines(record)
    return any(
        cwe_family(f.cwe) in wanted
        and SEVERITIES[f.severity] >= at_least
        and any(abs(f.line - line) <= 2 for line in lines)
        for f in findings
    )


def block_of(record: dict[str, Any]) -> CodeBlock:
    return CodeBlock(record["language"], record["origin_code"], "fenced", 1)


def pct(hit: int, total: int) -> str:
    return f"{hit / total:.2f}" if total else "–"


# --------------------------------------------------------------------------- CyberSecEval


def cyberseceval_tables(records: list[dict[str, Any]], use_bandit: bool) -> list[str]:
    out = ["### CyberSecEval instruct-v2: recall per language", ""]
    out += ["| language | n | recall (any severity) | recall (flagged, ≥ medium) |",
            "|---|---:|---:|---:|"]  # fmt: skip
    by_language: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    by_cwe: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    ours: dict[int, tuple[Finding, ...]] = {}
    for record in records:
        findings = scan("", blocks=[block_of(record)]).findings
        ours[record["prompt_id"]] = findings
        any_hit, flagged = matches(record, findings, 1), matches(record, findings, MEDIUM)
        for stats in (by_language[record["language"]],
                      by_cwe[(record["language"], record["cwe_identifier"])]):  # fmt: skip
            stats[0] += 1
            stats[1] += any_hit
            stats[2] += flagged
    total = [0, 0, 0]
    for language, (n, hit, flag) in sorted(by_language.items()):
        out.append(f"| {language} | {n} | {pct(hit, n)} | {pct(flag, n)} |")
        total = [total[0] + n, total[1] + hit, total[2] + flag]
    out.append(f"| **all** | {total[0]} | {pct(total[1], total[0])} | {pct(total[2], total[0])} |")
    covered = [v for k, v in by_language.items() if k in ("python", "javascript")]
    n, hit, flag = (sum(c[i] for c in covered) for i in range(3))
    out.append(f"| python + javascript (languages with rules) | {n} | {pct(hit, n)} | "
               f"{pct(flag, n)} |")  # fmt: skip
    out += ["", "Per CWE (python, javascript):", "",
            "| language | CWE | n | recall (any) | recall (flagged) |", "|---|---|---:|---:|---:|"]  # fmt: skip
    for (language, cwe), (n, hit, flag) in sorted(by_cwe.items()):
        if language in ("python", "javascript"):
            out.append(f"| {language} | {cwe} | {n} | {pct(hit, n)} | {pct(flag, n)} |")

    if not tsanalyser.available():
        return out
    # JavaScript without tree-sitter: the line patterns only.
    js = [r for r in records if r["language"] == "javascript"]
    saved = tsanalyser.available
    tsanalyser.available = lambda: False
    try:
        hits = [matches(r, scan("", blocks=[block_of(r)]).findings, 1) for r in js]
        flags = [matches(r, scan("", blocks=[block_of(r)]).findings, MEDIUM) for r in js]
    finally:
        tsanalyser.available = saved
    out += ["", f"JavaScript with line patterns only (tree-sitter not installed): recall "
            f"{pct(sum(hits), len(js))} (any), {pct(sum(flags), len(js))} (flagged), n={len(js)}."]  # fmt: skip

    if use_bandit:
        out += ["", *python_vs_bandit(records, ours)]
    return out


def python_vs_bandit(
    records: list[dict[str, Any]], ours: dict[int, tuple[Finding, ...]]
) -> list[str]:
    python = [r for r in records if r["language"] == "python"]
    # Dedented, as our analyser sees them; Bandit skips any file that does not parse.
    sources = [textwrap.dedent(r["origin_code"]) for r in python]
    parseable = sum(_parses(source) for source in sources)
    reports = bandit_runner.run_bandit(sources)
    rows = {"ours": [0, 0], "bandit alone": [0, 0], "ours + bandit": [0, 0]}
    for record, bandit_findings in zip(python, reports, strict=True):
        mine = ours[record["prompt_id"]]
        for name, findings in (("ours", mine), ("bandit alone", merge(bandit_findings)),
                               ("ours + bandit", merge([*mine, *bandit_findings]))):  # fmt: skip
            rows[name][0] += matches(record, findings, 1)
            rows[name][1] += matches(record, findings, MEDIUM)
    out = [f"Python on CyberSecEval (n={len(python)}), ours vs Bandit {bandit_runner.bandit_version()}."
           f" The records are snippets cut from files: {parseable} of {len(python)} parse as a"
           " module; Bandit skips the rest, our analyser parses them statement by statement.",
           "", "| analyser | recall (any) | recall (flagged, ≥ medium) |", "|---|---:|---:|"]  # fmt: skip
    for name, (hit, flag) in rows.items():
        out.append(f"| {name} | {pct(hit, len(python))} | {pct(flag, len(python))} |")
    return out


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- own corpus


def corpus() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    clean: list[dict[str, Any]] = []
    for name in ("clean_python.yaml", "clean_js_go.yaml"):
        clean += yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))["answers"]
    vulnerable = yaml.safe_load((CORPUS / "vulnerable.yaml").read_text(encoding="utf-8"))
    return clean, vulnerable["answers"]


Analyser = Callable[[dict[str, Any]], list[Finding]]


def corpus_table(use_bandit: bool) -> list[str]:
    clean, vulnerable = corpus()

    def ours(answer: dict[str, Any]) -> list[Finding]:
        return list(scan(answer["answer"], answer["language"]).findings)

    analysers: dict[str, Analyser] = {"ours": ours}
    if use_bandit:

        def both(answer: dict[str, Any]) -> list[Finding]:
            return list(scan(answer["answer"], answer["language"], bandit=True).findings)

        analysers["bandit alone"] = _bandit_alone
        analysers["ours + bandit"] = both
    out = ["### Own answer corpus (author-labelled): answer-level precision / recall", "",
           "An answer is flagged when any finding is at least medium; a vulnerable answer "
           "counts as found only if a flagged finding has the labelled CWE family.", "",
           "| analyser | languages | vulnerable n | clean n | recall | precision | "
           "false-positive rate |", "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, analyse in analysers.items():
        groups = [("all", lambda a: True), ("python", lambda a: a["language"] == "python")]
        if name != "ours":
            groups = groups[1:]
        else:
            groups.append(("javascript/typescript/go", lambda a: a["language"] != "python"))
        for group, keep in groups:
            vul = [a for a in vulnerable if keep(a)]
            cln = [a for a in clean if keep(a)]
            tp = sum(
                any(
                    SEVERITIES[f.severity] >= MEDIUM and cwe_family(f.cwe) == cwe_family(a["cwe"])
                    for f in analyse(a)
                )
                for a in vul
            )
            flagged_vul = sum(
                any(SEVERITIES[f.severity] >= MEDIUM for f in analyse(a)) for a in vul
            )
            fp = sum(any(SEVERITIES[f.severity] >= MEDIUM for f in analyse(a)) for a in cln)
            precision = flagged_vul / (flagged_vul + fp) if flagged_vul + fp else 0.0
            out.append(f"| {name} | {group} | {len(vul)} | {len(cln)} | {pct(tp, len(vul))} | "
                       f"{precision:.2f} | {pct(fp, len(cln))} |")  # fmt: skip
    return out


def _bandit_alone(answer: dict[str, Any]) -> list[Finding]:
    """Bandit's findings on the answer's Python blocks, with answer line numbers."""
    blocks = [b for b in scan(answer["answer"], answer["language"]).blocks
              if b.language == "python"]  # fmt: skip
    reports = bandit_runner.run_bandit([b.code for b in blocks]) if blocks else []
    found: list[Finding] = []
    for block, report in zip(blocks, reports, strict=True):
        for f in report:
            found.append(Finding(f.rule_id, f.cwe, f.severity, f.message, f.language,
                                 f.line + block.start_line - 1, f.snippet, f.source))  # fmt: skip
    return merge(found)


# --------------------------------------------------------------------------- real code


def real_code_table(limit_files: int) -> list[str]:
    files: list[Path] = []
    for package in REAL_CODE_PACKAGES:
        top = package.split("/")[0]
        spec = importlib.util.find_spec(top)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        sub = root / "/".join(package.split("/")[1:]) if "/" in package else root
        files += sorted(p for p in sub.rglob("*.py") if "tests" not in p.parts)[:limit_files]
    flagged_files = 0
    lines = 0
    rules: collections.Counter[str] = collections.Counter()
    for path in files:
        code = path.read_text(encoding="utf-8", errors="replace")
        lines += code.count("\n") + 1
        findings = [f for f in scan("", blocks=[CodeBlock("python", code, "whole", 1)]).findings
                    if SEVERITIES[f.severity] >= MEDIUM]  # fmt: skip
        flagged_files += bool(findings)
        rules.update(f.rule_id for f in findings)
    top = ", ".join(f"{rule} {count}" for rule, count in rules.most_common(6))
    return [
        "### Real library code (installed packages: " + ", ".join(REAL_CODE_PACKAGES) + ")", "",
        f"{len(files)} files, {lines:,} lines: {flagged_files} files ({pct(flagged_files, len(files))})"
        f" with a finding ≥ medium; {sum(rules.values())} findings. Most frequent: {top or 'none'}.",
    ]  # fmt: skip


# --------------------------------------------------------------------------- speed


def speed_table(use_bandit: bool) -> list[str]:
    clean, vulnerable = corpus()
    answers = [a for a in [*clean, *vulnerable]]
    detector = get_detector("code-security")
    probes = [Probe.from_prompt("x", expect={"language": a["language"]}) for a in answers]
    detector(probes[0], answers[0]["answer"])  # warm: rule loading, grammar loading
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        for probe, answer in zip(probes, answers, strict=True):
            detector(probe, answer["answer"])
    elapsed = time.perf_counter() - start
    total_chars = sum(len(a["answer"]) for a in answers)
    out = ["### Speed", "",
           "| mode | answers | mean answer size | verdicts/s |", "|---|---:|---:|---:|",
           f"| rules only (one process, one core) | {len(answers) * rounds} | "
           f"{total_chars // len(answers)} chars | {len(answers) * rounds / elapsed:,.0f} |"]  # fmt: skip
    if use_bandit:
        python = [(p, a) for p, a in zip(probes, answers, strict=True) if a["language"] == "python"]
        bandit_probes = [Probe.from_prompt("x", expect={"language": "python", "bandit": True})
                         for _ in python]  # fmt: skip
        start = time.perf_counter()
        for probe, (_, answer) in zip(bandit_probes, python, strict=True):
            detector(probe, answer["answer"])
        elapsed = time.perf_counter() - start
        out.append(f"| with Bandit (one subprocess per answer) | {len(python)} | – | "
                   f"{len(python) / elapsed:,.1f} |")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-bandit", action="store_true", help="skip the Bandit comparison")
    parser.add_argument("--real-files", type=int, default=60, help="files per real package")
    parser.add_argument("--quick", action="store_true", help="skip the Bandit speed run")
    args = parser.parse_args()
    use_bandit = not args.no_bandit and bandit_runner.available()
    records = load_dataset()
    cpu = platform.processor() or platform.machine()
    print("## code-security accuracy\n")
    print(f"Date {datetime.date.today().isoformat()}; machine {platform.system()} {cpu}, "
          f"{os.cpu_count()} CPUs; Python {platform.python_version()}; tree-sitter "
          f"{'yes' if tsanalyser.available() else 'no'}; Bandit "
          f"{bandit_runner.bandit_version() if use_bandit else 'not used'}.\n")  # fmt: skip
    for section in (cyberseceval_tables(records, use_bandit), corpus_table(use_bandit),
                    real_code_table(args.real_files), speed_table(use_bandit and not args.quick)):  # fmt: skip
        print("\n".join(section))
        print()


if __name__ == "__main__":
    main()
