"""Security rules as data: the YAML schema, its loader and the finding record.

Every rule lives in ``rules/<language>.yaml`` and names its CWE, severity and message, how
it matches (an AST condition for Python, a tree-sitter query for JavaScript/TypeScript/Go, a
line regex as the fallback for code that does not parse), and at least one ``vulnerable``
and one ``secure`` example. The examples are the rule's own test: the test suite runs each
rule on both and requires it to fire on the first and stay silent on the second, so a rule
cannot be added without showing what it must not flag.

Rules are data so that a reviewer can read, argue with and extend them without touching the
analysers, and so that a run records exactly which rule set (``RULESET_VERSION`` plus the
file hashes) produced its verdicts.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from allegiance.errors import ConfigError
from allegiance.yaml_safe import YAMLError, safe_load

SEVERITIES: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}
RULE_FILES = ("python", "javascript", "go", "common")
_ID = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
_CWE = re.compile(r"^CWE-\d+$")


@dataclass(frozen=True)
class Rule:
    """One rule. ``match`` is interpreted by the analyser of the rule file's language."""

    id: str
    cwe: str
    severity: str
    message: str
    languages: tuple[str, ...]
    match: Mapping[str, Any] = field(default_factory=dict)
    query: str | None = None
    pattern: re.Pattern[str] | None = None
    vulnerable: tuple[str, ...] = ()
    secure: tuple[str, ...] = ()

    @property
    def severity_rank(self) -> int:
        return SEVERITIES[self.severity]


@dataclass(frozen=True)
class Finding:
    """One problem found in one line of an answer."""

    rule_id: str
    cwe: str
    severity: str
    message: str
    language: str
    line: int
    snippet: str
    source: str = "allegiance"

    def to_record(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "cwe": self.cwe,
            "severity": self.severity,
            "message": self.message,
            "language": self.language,
            "line": self.line,
            "snippet": self.snippet,
            "source": self.source,
        }


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _parse_rule(raw: Mapping[str, Any], languages: tuple[str, ...], where: str) -> Rule:
    def need(key: str) -> Any:
        if key not in raw:
            raise ConfigError(f"{where}: rule {raw.get('id', '?')!r} has no {key!r}")
        return raw[key]

    rule_id = str(need("id"))
    if not _ID.match(rule_id):
        raise ConfigError(f"{where}: rule id {rule_id!r} must be lowercase dotted words")
    cwe = str(need("cwe"))
    if not _CWE.match(cwe):
        raise ConfigError(f"{where}: rule {rule_id}: cwe {cwe!r} is not like 'CWE-89'")
    severity = str(need("severity"))
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: rule {rule_id}: severity must be one of {list(SEVERITIES)}")
    pattern_text = raw.get("pattern")
    try:
        pattern = re.compile(pattern_text) if pattern_text else None
    except re.error as exc:
        raise ConfigError(f"{where}: rule {rule_id}: bad pattern regex: {exc}") from exc
    match = raw.get("match") or {}
    if not isinstance(match, Mapping):
        raise ConfigError(f"{where}: rule {rule_id}: 'match' must be a mapping")
    query = raw.get("query")
    if not (match or query or pattern):
        raise ConfigError(f"{where}: rule {rule_id} has none of match/query/pattern")
    return Rule(
        id=rule_id,
        cwe=cwe,
        severity=severity,
        message=str(need("message")).strip(),
        languages=_as_tuple(raw.get("languages")) or languages,
        match=match,
        query=str(query) if query else None,
        pattern=pattern,
        vulnerable=_as_tuple(raw.get("vulnerable")),
        secure=_as_tuple(raw.get("secure")),
    )


def parse_rules(text: str, where: str) -> tuple[Rule, ...]:
    """Rules from the YAML ``text`` of one rule file (``where`` names it in errors)."""
    try:
        doc = safe_load(text)
    except YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        raise ConfigError(f"{where}: expected a mapping with a 'rules' list")
    languages = _as_tuple(doc.get("languages"))
    rules = tuple(_parse_rule(raw, languages, where) for raw in doc["rules"])
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ConfigError(f"{where}: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
    return rules


@functools.cache
def load_rules(name: str) -> tuple[Rule, ...]:
    """The packaged rule file ``rules/<name>.yaml`` (cached: rules are immutable)."""
    text = _rule_text(name)
    return parse_rules(text, f"rules/{name}.yaml")


@functools.cache
def secret_settings() -> Mapping[str, Any]:
    """The shared ``secrets`` settings of ``rules/common.yaml`` (names, placeholders …)."""
    doc = safe_load(_rule_text("common"))
    settings = doc.get("secrets") if isinstance(doc, Mapping) else None
    if not isinstance(settings, Mapping) or not {"names", "not_names", "placeholders"} <= set(
        settings
    ):
        raise ConfigError("rules/common.yaml: 'secrets' needs names, not_names and placeholders")
    for key in ("names", "not_names", "placeholders"):
        try:
            re.compile(str(settings[key]))
        except re.error as exc:
            raise ConfigError(f"rules/common.yaml: secrets.{key} is not a regex: {exc}") from exc
    return settings


def _rule_text(name: str) -> str:
    return (
        resources.files("allegiance.detectors.code")
        .joinpath("rules", f"{name}.yaml")
        .read_text(encoding="utf-8")
    )


@functools.cache
def ruleset_digest() -> str:
    """A short hash of all packaged rule files, recorded with every verdict."""
    digest = hashlib.sha256()
    for name in RULE_FILES:
        digest.update(_rule_text(name).encode())
    return digest.hexdigest()[:12]
