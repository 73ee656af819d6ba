"""Detection benchmark: our scanner vs picklescan, modelscan and fickling on one corpus.

The corpus comes from :mod:`allegiance.artifacts.testcorpus` (the same builders the tests
use): hand-assembled malicious pickles modelled on published scanner bypasses, plus benign
files (real pickler output, PyTorch zips, legacy torch files, joblib, npy, safetensors).
Nothing is ever loaded. Peer tools, when installed in a separate venv, are run as
subprocesses on each file:

    python3.11 -m venv /tmp/scanpeers
    /tmp/scanpeers/bin/pip install picklescan modelscan fickling typing_extensions
    PYTHONPATH=src python benchmarks/scan_compare.py [--peers /tmp/scanpeers/bin] [--details]

A file counts as detected when the tool says "unsafe": ours at the default --fail-on
(medium or above); picklescan exit 1; modelscan exit 1; fickling --check-safety exit 1
("likely unsafe"; its exit 2 means it could not parse the file). Tool errors are counted separately (an error is not a detection).
Prints a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from allegiance.artifacts import Severity, scan_paths
from allegiance.artifacts.testcorpus import Sample, write_corpus

Verdict = tuple[bool, bool]  # (flagged, tool error)


def ours(path: Path) -> Verdict:
    result = scan_paths([path]).files[0]
    worst = result.max_severity
    flagged = worst is not None and worst >= Severity.MEDIUM
    return flagged, result.status == "could not scan" and not flagged


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def picklescan(bin_dir: Path) -> Callable[[Path], Verdict]:
    def scan(path: Path) -> Verdict:
        proc = _run([str(bin_dir / "picklescan"), "--path", str(path)])
        return proc.returncode == 1, proc.returncode not in (0, 1)

    return scan


def modelscan(bin_dir: Path) -> Callable[[Path], Verdict]:
    def scan(path: Path) -> Verdict:
        proc = _run([str(bin_dir / "modelscan"), "-p", str(path)])
        return proc.returncode == 1, proc.returncode not in (0, 1)

    return scan


def fickling(bin_dir: Path) -> Callable[[Path], Verdict]:
    def scan(path: Path) -> Verdict:
        with tempfile.TemporaryDirectory() as scratch:
            proc = _run(
                [
                    str(bin_dir / "fickling"),
                    "--check-safety",
                    "--json-output",
                    str(Path(scratch) / "out.json"),
                    str(path),
                ]
            )
        # exit 1: "likely unsafe"; exit 2: it could not parse the file (an error, not a verdict)
        crashed = "Traceback" in proc.stderr or proc.returncode not in (0, 1)
        return proc.returncode == 1 and not crashed, crashed

    return scan


def evaluate(
    tool: Callable[[Path], Verdict],
    malicious: list[tuple[Path, Sample]],
    benign: list[tuple[Path, Sample]],
) -> dict[str, object]:
    start = time.perf_counter()
    missed, fps, errors = [], [], 0
    for path, sample in malicious:
        flagged, error = tool(path)
        errors += error
        if not flagged:
            missed.append(sample.name)
    for path, sample in benign:
        flagged, error = tool(path)
        errors += error
        if flagged:
            fps.append(sample.name)
    return {
        "detected": len(malicious) - len(missed),
        "missed": missed,
        "fp": fps,
        "errors": errors,
        "seconds": time.perf_counter() - start,
    }


def version(bin_dir: Path, name: str) -> str:
    proc = _run([str(bin_dir / "pip"), "show", name])
    for line in proc.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--peers", type=Path, default=Path(os.environ.get("SCAN_PEERS_BIN", "/tmp/scanpeers/bin"))
    )
    parser.add_argument("--details", action="store_true", help="list missed files per tool")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scan-corpus-") as tmp:
        malicious, benign = write_corpus(Path(tmp))
        tools: dict[str, Callable[[Path], Verdict]] = {"allegiance scan (ours)": ours}
        for name, factory in (
            ("picklescan", picklescan),
            ("modelscan", modelscan),
            ("fickling", fickling),
        ):
            if (args.peers / name).exists():
                tools[f"{name} {version(args.peers, name)}"] = factory(args.peers)
            else:
                print(f"note: {name} not found in {args.peers}; skipped", file=sys.stderr)
        results = {name: evaluate(tool, malicious, benign) for name, tool in tools.items()}
    cpu = platform.processor() or platform.machine()
    print(f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ")
    print(
        f"Machine: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}  "
    )
    print(
        f"Corpus: {len(malicious)} malicious, {len(benign)} benign files "
        "(allegiance.artifacts.testcorpus)\n"
    )
    print("| tool | malicious detected | false positives (benign) | tool errors | time (s) |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['detected']}/{len(malicious)} | {len(r['fp'])}/{len(benign)} "  # type: ignore[arg-type]
            f"| {r['errors']} | {r['seconds']:.1f} |"
        )
    if args.details:
        for name, r in results.items():
            print(
                f"\n**{name}** missed: {', '.join(r['missed']) or 'none'}; "  # type: ignore[arg-type]
                f"false positives: {', '.join(r['fp']) or 'none'}"
            )  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
