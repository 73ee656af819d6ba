"""SARIF 2.1.0 for code findings (code-security and scope verdicts), for code-scanning tools."""

from __future__ import annotations

import json
from typing import Any

from allegiance import __version__


def render_sarif(model: dict[str, Any]) -> str:
    results = []
    rules: dict[str, dict[str, Any]] = {}
    for item in model.get("code_findings", []):
        attempt_id = item["attempt_id"]
        for finding in item["findings"]:
            rule_id = str(finding.get("rule_id", "code-security"))
            rules.setdefault(
                rule_id,
                {
                    "id": rule_id,
                    "shortDescription": {"text": str(finding.get("message", rule_id))},
                    "properties": {"cwe": finding.get("cwe")},
                },
            )
            level = {"critical": "error", "high": "error", "medium": "warning"}.get(
                str(finding.get("severity")), "note"
            )
            results.append(
                {
                    "ruleId": rule_id,
                    "level": level,
                    "message": {
                        "text": f"{finding.get('message')} (attempt {attempt_id[:12]}, {item['target']}, {item['probe_id']})"
                    },
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": f"attempt/{attempt_id}"},
                                "region": {"startLine": _line(finding.get("line"))},
                            }
                        }
                    ],
                }
            )
    sarif = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "allegiance",
                        "version": __version__,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2)


def _line(value: Any) -> int:
    """A SARIF start line (1-based) from stored evidence, whatever shape it has."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
