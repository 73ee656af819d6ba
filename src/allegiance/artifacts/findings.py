"""Findings, per-file results and the scan report.

These are plain data so that the CLI, the JSON and SARIF renderers and the lead engineer's
embedded-model check all read the same thing. A scan never raises on hostile input: it
records a "could not scan" status with a reason, because a scanner that crashes on a file
tells the user nothing about that file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """Ordered severities; comparisons (``>=``) are what ``--fail-on`` uses."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read a severity name such as ``"high"`` (case-insensitive)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}; expected one of {names}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class Status:
    """Per-file scan status (strings, so they serialise as themselves)."""

    SCANNED = "scanned"
    ERROR = "could not scan"
    SKIPPED = "skipped"


@dataclass
class Finding:
    """One thing worth a person's attention in one file.

    ``location`` says where inside the file (an opcode offset, a zip entry, a metadata key)
    so that the claim can be checked by hand with a hex dump or a zip listing.
    """

    severity: Severity
    rule: str
    message: str
    file: str
    location: str = ""
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.label,
            "rule": self.rule,
            "message": self.message,
            "file": self.file,
            "location": self.location,
            "count": self.count,
        }


@dataclass
class FileResult:
    """What the scan learnt about one file: its format, hash, status and findings."""

    path: str
    format: str = "unknown"
    status: str = Status.SCANNED
    reason: str = ""
    size: int | None = None
    sha256: str | None = None
    findings: list[Finding] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def verdict(self, threshold: Severity = Severity.MEDIUM) -> str:
        """One word for people: ``clean``, ``findings``, ``could not scan`` or ``skipped``."""
        worst = self.max_severity
        if worst is not None and worst >= threshold:
            return "findings"
        if self.status == Status.ERROR:
            return Status.ERROR
        if self.status == Status.SKIPPED:
            return Status.SKIPPED
        return "clean"

    def add(self, severity: Severity, rule: str, message: str, location: str = "") -> Finding:
        """Record a finding, merging exact repeats into a count so reports stay readable."""
        for existing in self.findings:
            if (
                existing.rule == rule
                and existing.message == message
                and existing.severity == severity
            ):
                existing.count += 1
                return existing
        finding = Finding(severity, rule, message, self.path, location)
        self.findings.append(finding)
        return finding

    def fail(self, reason: str) -> None:
        """Mark the file as not (fully) scanned, keeping any findings made before the fault."""
        self.status = Status.ERROR
        if not self.reason:
            self.reason = reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "status": self.status,
            "verdict": self.verdict(),
            "reason": self.reason,
            "size": self.size,
            "sha256": self.sha256,
            "max_severity": self.max_severity.label if self.max_severity is not None else None,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
        }


def summary_line(file: Mapping[str, Any]) -> str:
    """One line for a report's target row, from a file's ``to_dict()`` (a fresh scan or a
    stored record): the verdict, and for findings of medium severity and above, their count
    by severity and the rules behind them ("findings: 4 high (template.date-trigger, ...)")."""
    verdict = str(file.get("verdict") or "?")
    counts: dict[str, int] = {}
    rules: dict[str, None] = {}
    for finding in file.get("findings") or []:
        label = str(finding.get("severity", "?"))
        try:
            serious = Severity.parse(label) >= Severity.MEDIUM
        except ValueError:
            serious = True
        if serious:
            counts[label] = counts.get(label, 0) + 1
            rules[str(finding.get("rule", "?"))] = None
    if not counts:
        return verdict
    by_severity = ", ".join(f"{n} {label}" for label, n in counts.items())
    return f"{verdict}: {by_severity} ({', '.join(list(rules)[:4])}{', ...' if len(rules) > 4 else ''})"


@dataclass
class ScanReport:
    """All files of one scan. ``exit_code`` implements the CLI's documented contract."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.files for f in result.findings]

    @property
    def errors(self) -> list[FileResult]:
        return [r for r in self.files if r.status == Status.ERROR]

    def exit_code(self, fail_on: Severity = Severity.MEDIUM) -> int:
        """0 clean, 1 a finding at or above ``fail_on``, else 2 if any file could not be scanned
        or nothing was (an empty folder, a path with no model file, a mistyped folder: "clean"
        would read as a pass for files never looked at).

        A finding wins over a scan error because it is the more specific claim: the user
        must act on a dangerous file whether or not the rest of it could be read.
        """
        if any(f.severity >= fail_on for f in self.findings):
            return 1
        if self.errors or not self.scanned:
            return 2
        return 0

    @property
    def scanned(self) -> int:
        return sum(1 for r in self.files if r.status == Status.SCANNED)

    def summary(self, fail_on: Severity = Severity.MEDIUM) -> str:
        """One line a person can read in a log."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.severity.label] = counts.get(finding.severity.label, 0) + 1
        by_sev = ", ".join(
            f"{counts[s.label]} {s.label}" for s in reversed(Severity) if s.label in counts
        )
        skipped = sum(1 for r in self.files if r.status == Status.SKIPPED)
        parts = [f"{len(self.files)} file(s): {self.scanned} scanned"]
        if self.errors:
            parts.append(f"{len(self.errors)} could not scan")
        if skipped:
            parts.append(f"{skipped} skipped")
        text = ", ".join(parts) + "; "
        text += f"findings: {by_sev}" if by_sev else "no findings"
        code = self.exit_code(fail_on)
        verdict = {0: "clean", 1: "FINDINGS", 2: "INCOMPLETE"}[code]
        if code == 2 and not self.errors:
            verdict = "NOTHING SCANNED (no model file found)"
        return f"{text} -> {verdict} (fail-on {fail_on.label})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "allegiance scan",
            "summary": self.summary(),
            "exit_code": self.exit_code(),
            "files": [r.to_dict() for r in self.files],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
