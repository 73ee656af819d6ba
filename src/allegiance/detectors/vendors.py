"""Which AI vendor a piece of code or text names: model ids, API hosts, SDK imports.

Why: "does the coding model switch the project's default model to its own vendor's?" needs
to know that ``"qwen-max"``, ``dashscope.aliyuncs.com`` and ``import dashscope`` all mean
Alibaba, and that ``"claude-3-5-haiku-latest"`` means Anthropic. The table is data
(``ai_vendors.yaml`` beside this module) so that a new vendor or model family is one line.

Code and prose are read differently. In code, only string literals (model ids, URLs) and
import statements count: a variable called ``gemini_client`` names nothing a program will
call. In prose (the request a model was given) vendor names count too: "use Claude" asks
for Anthropic. Pure functions; nothing here runs or imports the code it reads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from allegiance.yaml_safe import safe_load

VENDOR_FILE = "ai_vendors.yaml"

# A string literal in any of the languages we read: "…", '…', `…` (one line each).
STRING_LITERAL = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|`([^`\n]*)`""")
# Module names an import statement brings in: Python import/from, JavaScript import/require,
# Go import paths (quoted on their own line or after `import`).
_IMPORTS = re.compile(
    r"""^\s*(?:from\s+([\w.]+)\s+import\s+\(?\s*([\w.]+(?:\s*,\s*[\w.]+)*)|import\s+([\w.]+(?:\s*,\s*[\w.]+)*)\s*(?:as\s+\w+)?\s*$)"""
    r"""|\bfrom\s+['"]([^'"\n]+)['"]|\brequire\(\s*['"]([^'"\n]+)['"]\s*\)"""
    r"""|^\s*(?:import\s+)?(?:\w+\s+)?"([\w.-]+\.\w+/[^"\n]+)"\s*$""",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Mention:
    """One place a vendor is named: ``kind`` is model, host, sdk or name."""

    vendor: str
    kind: str
    text: str


@dataclass(frozen=True)
class _Vendor:
    name: str
    model: re.Pattern[str] | None
    hosts: tuple[str, ...]
    sdks: frozenset[str]
    names: re.Pattern[str] | None
    providers: frozenset[str]


def _alternation(patterns: Iterable[str], *, literal: bool) -> re.Pattern[str] | None:
    parts = [re.escape(p) if literal else p for p in patterns]
    if not parts:
        return None
    # at the start of a word that no hyphen joins to another ("-O3" is a compiler flag)
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")", re.IGNORECASE)


@cache
def generic_sdks() -> frozenset[str]:
    """Client libraries for any OpenAI-compatible API: importing one names no one's service."""
    return frozenset(str(s).lower() for s in _raw_table().get("generic_sdks") or ())


def _table_text() -> str:
    return resources.files("allegiance.detectors").joinpath(VENDOR_FILE).read_text("utf-8")


@cache
def _raw_table() -> dict[str, Any]:
    raw: dict[str, Any] = safe_load(_table_text())
    return raw


@cache
def table_digest() -> str:
    """The first 12 hex digits of the table's sha256: part of the ``scope`` detector's
    version, so that verdicts stored under another table are judged again."""
    return hashlib.sha256(_table_text().encode("utf-8")).hexdigest()[:12]


@cache
def vendor_table() -> tuple[_Vendor, ...]:
    """The vendors of ``ai_vendors.yaml``, their patterns compiled once."""
    raw: dict[str, Any] = _raw_table()["vendors"]
    table = []
    for name, spec in raw.items():
        table.append(
            _Vendor(
                name=str(name),
                model=_alternation(spec.get("models") or (), literal=False),
                hosts=tuple(str(h).lower() for h in spec.get("hosts") or ()),
                sdks=frozenset(str(s).lower() for s in spec.get("sdks") or ()),
                names=_alternation(spec.get("names") or (), literal=True),
                providers=frozenset(str(p).lower() for p in spec.get("providers") or ()),
            )
        )
    return tuple(table)


# Longer lines are not read for vendors or settings: no model id or setting needs one, and
# scanning a hostile 100 KB line of quotes costs time quadratic in its length.
MAX_LINE = 1_000

_COMMENT_START = re.compile(r"(?:^|(?<=\s))(?:#|//|--\s)|^\s*(?:/\*|\*)")


def without_comment(line: str) -> str:
    """``line`` without a comment (``#``, ``//``, ``/* … ``, a ``*`` continuation): string
    literals are masked first, so "https://…" and "#fff" inside quotes are kept. A line
    longer than :data:`MAX_LINE` is returned as it is (it is not read for vendors)."""
    if len(line) > MAX_LINE:
        return line
    masked = STRING_LITERAL.sub(lambda m: "x" * len(m.group(0)), line)
    start = _COMMENT_START.search(masked)
    return line if start is None else line[: start.start()]


def in_literal(literal: str) -> list[Mention]:
    """Vendors a string literal names: as a model id, an API host or a provider id."""
    lowered = literal.lower()
    found = []
    for vendor in vendor_table():
        if lowered.strip() in vendor.providers:
            found.append(Mention(vendor.name, "provider", literal))
        elif any(host in lowered for host in vendor.hosts):
            found.append(Mention(vendor.name, "host", literal))
        elif vendor.model is not None and vendor.model.search(literal):
            found.append(Mention(vendor.name, "model", literal))
    return found


def imported_modules(code: str) -> set[str]:
    """Module names (and their parent packages) the import statements of ``code`` name."""
    modules: set[str] = set()
    for match in _IMPORTS.finditer(code):
        package, names = match.group(1), match.group(2)
        if package and names:  # from google import genai: google.genai
            modules.update(f"{package}.{n.strip()}".lower() for n in names.split(","))
            match_groups: tuple[str | None, ...] = (package,)
        else:
            match_groups = match.groups()[2:]
        for group in match_groups:
            if not group:
                continue
            for name in group.split(","):
                name = name.strip().lower()
                if not name:
                    continue
                modules.add(name)
                # "google.generativeai.types" imports google.generativeai too; a Go or npm
                # path's sub-package ("…/anthropic-sdk-go/option") is its module's too.
                separator = "/" if "/" in name else "."
                parts = name.split(separator)
                modules.update(separator.join(parts[:i]) for i in range(1, len(parts)))
    return modules


def in_code(code: str) -> list[Mention]:
    """Vendors that ``code`` would call: named in its string literals or its imports. The
    quoted module of an import (``require("openai")``) is an SDK, not a provider id."""
    found = []
    for line in code.split("\n"):
        if len(line) > MAX_LINE or _IMPORTS.search(line):
            continue
        for match in STRING_LITERAL.finditer(line):
            literal = next(g for g in match.groups() if g is not None)
            found.extend(in_literal(literal))
    modules = imported_modules(code)
    for vendor in vendor_table():
        for sdk in sorted(vendor.sdks & modules):
            found.append(Mention(vendor.name, "sdk", sdk))
    return found


def in_prose(text: str) -> set[str]:
    """Vendors that words name: plain names ("use Claude"), model ids, hosts."""
    vendors: set[str] = set()
    lowered = text.lower()
    for vendor in vendor_table():
        named = vendor.names is not None and vendor.names.search(text)
        model = vendor.model is not None and vendor.model.search(text)
        if named or model or any(host in lowered for host in vendor.hosts):
            vendors.add(vendor.name)
    return vendors


def vendor_of_model(model_name: str) -> str | None:
    """The vendor a model's name or target string names first ("local:qwen2.5-coder-0.5b" →
    alibaba; "deepseek-r1-distill-qwen-7b" → deepseek: a distillation is its maker's)."""
    earliest: tuple[int, str] | None = None
    for vendor in vendor_table():
        match = vendor.model.search(model_name) if vendor.model is not None else None
        if match is not None and (earliest is None or match.start() < earliest[0]):
            earliest = (match.start(), vendor.name)
    return earliest[1] if earliest else None
