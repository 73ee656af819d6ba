"""From an answer to a list of findings: extract the code, route each block to its analyser.

Python goes to the :mod:`ast` analyser, JavaScript/TypeScript/Go to the tree-sitter one
(or their line patterns when tree-sitter is not installed), and every block, whatever its
language, to the format-based credential rules of ``common.yaml``. Findings on the same
answer line that describe the same weakness (a CWE *family*, e.g. weak hash for a password
vs. weak hash in general) are merged, keeping the most severe.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from allegiance.detectors.code import pyanalyser, tsanalyser
from allegiance.detectors.code.extract import CodeBlock, extract_code
from allegiance.detectors.code.rules_model import (
    SEVERITIES,
    Finding,
    Rule,
    load_rules,
    secret_settings,
)

TREE_SITTER_LANGUAGES = ("javascript", "typescript", "go")

# CWEs that name the same weakness at different precision; one line gets one of them.
CWE_FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({"CWE-916", "CWE-328", "CWE-327", "CWE-326", "CWE-759", "CWE-760"}),
    frozenset({"CWE-338", "CWE-330", "CWE-331"}),
    frozenset({"CWE-78", "CWE-77"}),
    frozenset({"CWE-94", "CWE-95", "CWE-1336"}),
    frozenset({"CWE-798", "CWE-259", "CWE-321", "CWE-312"}),
    frozenset({"CWE-22", "CWE-23", "CWE-36"}),
    frozenset({"CWE-611", "CWE-776", "CWE-20"}),
    frozenset({"CWE-614", "CWE-1004"}),
)


def cwe_family(cwe: str) -> str:
    """A stable key for ``cwe``'s family (the smallest member), or the CWE itself."""
    for family in CWE_FAMILIES:
        if cwe in family:
            return min(family)
    return cwe


@dataclass(frozen=True)
class ScanResult:
    blocks: tuple[CodeBlock, ...]
    findings: tuple[Finding, ...]
    analysers: dict[str, str] = field(default_factory=dict)

    def max_severity(self, at_least: str = "low") -> int:
        floor = SEVERITIES[at_least]
        ranks = [SEVERITIES[f.severity] for f in self.findings if SEVERITIES[f.severity] >= floor]
        return max(ranks, default=0)


@functools.cache
def _rules(language: str) -> tuple[Rule, ...]:
    """Rules for ``language``, validated once (a broken rule file fails loudly, early)."""
    if language == "python":
        rules = load_rules("python")
        for rule in rules:
            pyanalyser.validate_rule(rule)
        return rules
    if language in TREE_SITTER_LANGUAGES:
        name = "go" if language == "go" else "javascript"
        rules = load_rules(name)
        if tsanalyser.available():
            for rule in rules:
                tsanalyser.compile_rule(rule, "tsx" if language == "typescript" else language)
        return rules
    return ()


def prepare_rules() -> None:
    """Validate every language's rules and compile their tree-sitter queries (~0.1 s)."""
    for language in ("python", *TREE_SITTER_LANGUAGES):
        _rules(language)


def _pattern_hits(code: str, rules: Iterable[Rule]) -> list[tuple[int, str]]:
    hits = []
    for index, line in enumerate(code.split("\n")):
        for rule in rules:
            if rule.pattern is not None and rule.pattern.search(line):
                hits.append((index + 1, rule.id))
    return hits


def scan_block(block: CodeBlock) -> tuple[list[Finding], str]:
    """Findings for one block (lines are answer lines) and the analyser that produced them."""
    language = block.language
    rules = _rules(language)
    by_id = {rule.id: rule for rule in rules}
    analyser = "none"
    hits: list[tuple[int, str]] = []
    if language == "python":
        hits = pyanalyser.analyse(block.code, rules)
        analyser = "python-ast"
    elif language in TREE_SITTER_LANGUAGES:
        if tsanalyser.available():
            hits = tsanalyser.analyse(block.code, language, rules, secret_settings())
            analyser = "tree-sitter"
        else:
            hits = _pattern_hits(block.code, rules)
            analyser = "patterns"
    common = load_rules("common")
    by_id.update((rule.id, rule) for rule in common)
    hits += _pattern_hits(block.code, common)
    lines = block.code.split("\n")
    findings = []
    for line, rule_id in hits:
        rule = by_id[rule_id]
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        findings.append(
            Finding(
                rule_id=rule.id,
                cwe=rule.cwe,
                severity=rule.severity,
                message=rule.message,
                language=language,
                line=block.start_line + line - 1,
                snippet=text.strip()[:200],
            )
        )
    return findings, analyser


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (line, CWE family): the most severe, ours before Bandit's on ties."""
    best: dict[tuple[int, str], Finding] = {}
    for finding in findings:
        key = (finding.line, cwe_family(finding.cwe))
        current = best.get(key)
        if current is None or (SEVERITIES[finding.severity], finding.source == "allegiance") > (
            SEVERITIES[current.severity],
            current.source == "allegiance",
        ):
            best[key] = finding
    return sorted(best.values(), key=lambda f: (f.line, -SEVERITIES[f.severity], f.rule_id))


def scan(
    text: str,
    default_language: str | None = None,
    *,
    bandit: bool = False,
    blocks: Sequence[CodeBlock] | None = None,
) -> ScanResult:
    """Extract the code in ``text`` and return every finding, merged per line and CWE family.

    With ``bandit=True`` the Python blocks are also given to Bandit (a subprocess that parses
    them) and its findings merged in; see :mod:`.bandit_runner`.
    """
    found_blocks = tuple(blocks) if blocks is not None else tuple(
        extract_code(text, default_language)
    )  # fmt: skip
    findings: list[Finding] = []
    analysers: dict[str, str] = {}
    for block in found_blocks:
        block_findings, analyser = scan_block(block)
        findings += block_findings
        analysers[block.language] = analyser
    if bandit:
        from allegiance.detectors.code import bandit_runner

        python_blocks = [b for b in found_blocks if b.language == "python"]
        if python_blocks:
            reports = bandit_runner.run_bandit([b.code for b in python_blocks])
            for block, report in zip(python_blocks, reports, strict=True):
                for finding in report:
                    findings.append(_shift(finding, block.start_line - 1))
            analysers["python"] = analysers.get("python", "python-ast") + "+bandit"
    return ScanResult(found_blocks, tuple(merge(findings)), analysers)


def _shift(finding: Finding, offset: int) -> Finding:
    return Finding(
        rule_id=finding.rule_id,
        cwe=finding.cwe,
        severity=finding.severity,
        message=finding.message,
        language=finding.language,
        line=finding.line + offset,
        snippet=finding.snippet,
        source=finding.source,
    )
