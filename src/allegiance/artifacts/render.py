"""Render a :class:`ScanReport` as a table for people, JSON, or SARIF 2.1.0.

SARIF is what code-scanning services ingest; each finding becomes a result whose rule id is
ours and whose level maps our severity (critical/high -> error, medium -> warning, low/info
-> note). Files that could not be scanned become tool execution notifications, so a CI view
shows them as failures of the scan rather than as clean files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from allegiance import __version__
from allegiance.artifacts.findings import ScanReport, Severity, Status
from allegiance.safe_text import json_visible_controls, visible_controls

SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY = {  # GitHub code scanning reads this property (0-10)
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}


def _clip(text: str, width: int) -> str:
    # file names, tensor names and metadata come from the artifact: a terminal must not act
    # on an escape sequence or bidi override in them
    text = visible_controls(text.replace("\n", "\\n").replace("\r", "\\r"))
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(
    report: ScanReport, fail_on: Severity = Severity.MEDIUM, min_severity: Severity = Severity.INFO
) -> str:
    """Plain-text table: one row per file, then its findings, then a summary line."""
    lines = []
    width = min(60, max([len(_clip(r.path, 10**6)) for r in report.files] + [4]))
    lines.append(f"{'FILE':<{width}}  {'FORMAT':<16} {'VERDICT':<15} SHA256")
    for result in report.files:
        verdict = result.verdict(fail_on)
        digest = (result.sha256 or "-")[:16]
        lines.append(
            f"{_clip(result.path, width):<{width}}  {_clip(result.format, 16):<16} "
            f"{verdict:<15} {digest}"
        )
        if result.status == Status.ERROR:
            lines.append(f"    could not scan: {_clip(result.reason, 200)}")
        elif result.status == Status.SKIPPED and result.reason:
            lines.append(f"    skipped: {_clip(result.reason, 200)}")
        shown = sorted(
            (f for f in result.findings if f.severity >= min_severity),
            key=lambda f: -f.severity,
        )
        for finding in shown:
            count = f" (x{finding.count})" if finding.count > 1 else ""
            lines.append(
                f"    {finding.severity.label.upper():<8} {finding.rule:<28} "
                f"{_clip(finding.message, 150)}{count}"
            )
            if finding.location:
                lines.append(f"    {'':<8} {'':<28} at {_clip(finding.location, 120)}")
    lines.append("")
    lines.append(report.summary(fail_on))
    return "\n".join(lines)


def render_json(report: ScanReport) -> str:
    return json_visible_controls(report.to_json())


def render_sarif(report: ScanReport) -> str:
    """SARIF 2.1.0 log with one run."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for finding in report.findings:
        if finding.rule not in rules:
            rules[finding.rule] = {
                "id": finding.rule,
                "name": finding.rule.replace(".", "-"),
                "shortDescription": {"text": finding.rule},
                "defaultConfiguration": {"level": SARIF_LEVEL[finding.severity]},
                "properties": {
                    "security-severity": SECURITY_SEVERITY[finding.severity],
                    "tags": ["security", "model-artifact"],
                },
            }
        results.append(
            {
                "ruleId": finding.rule,
                "level": SARIF_LEVEL[finding.severity],
                "message": {
                    "text": finding.message
                    + (f" (at {finding.location})" if finding.location else "")
                },
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": Path(finding.file).as_posix()}
                        },
                        "logicalLocations": [{"fullyQualifiedName": finding.location or "file"}],
                    }
                ],
                "properties": {"severity": finding.severity.label, "count": finding.count},
            }
        )
    notifications = [
        {
            "level": "error",
            "message": {"text": f"could not scan {r.path}: {r.reason}"},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": Path(r.path).as_posix()}}}
            ],
        }
        for r in report.errors
    ]
    if not report.scanned and not report.errors:
        notifications.append(
            {"level": "error", "message": {"text": "nothing scanned: no model file found"}}
        )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "allegiance-scan",
                        "version": __version__,
                        "informationUri": "https://github.com/allegiance/allegiance",
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not report.errors and bool(report.scanned),
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "artifacts": [
                    {
                        "location": {"uri": Path(r.path).as_posix()},
                        "length": r.size if r.size is not None else -1,
                        **({"hashes": {"sha-256": r.sha256}} if r.sha256 else {}),
                    }
                    for r in report.files
                ],
                "results": results,
            }
        ],
    }
    return json_visible_controls(json.dumps(log, indent=2, ensure_ascii=False))
