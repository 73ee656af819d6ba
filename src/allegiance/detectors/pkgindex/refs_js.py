"""JavaScript/TypeScript references: module specifiers and the npm package each needs.

``import … from 'x'``, ``import 'x'``, ``import('x')``, ``require('x')`` and
``export … from 'x'`` are found by regex after comments are blanked (line numbers kept).
A specifier names a package by its first path segment, or its first two for scoped names
(``@mui/material/Button`` → ``@mui/material``). Relative paths, ``node:`` and bare Node core
modules (``data/node_core_modules.txt``), bundler aliases (``@/``, ``~/``, ``#``) and URLs
need no package.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from allegiance.detectors.pkgindex.names import is_valid
from allegiance.detectors.pkgindex.refs_python import data_lines


@lru_cache(maxsize=1)
def node_core() -> tuple[frozenset[str], frozenset[str]]:
    """(bare core modules, core modules that exist only with the ``node:`` prefix)."""
    bare: set[str] = set()
    prefix_only: set[str] = set()
    target = bare
    for line in data_lines("node_core_modules.txt"):
        if line == "[prefix-only]":
            target = prefix_only
            continue
        target.add(line)
    return frozenset(bare), frozenset(prefix_only)


_JS_SPECIFIERS: Final = (
    re.compile(r"""\bfrom\s*(["'])([^"'\n]+)\1"""),
    re.compile(r"""(?:^|[;\s])import\s*(["'])([^"'\n]+)\1""", re.MULTILINE),
    re.compile(r"""\bimport\s*\(\s*(["'])([^"'\n]+)\1\s*\)"""),
    re.compile(r"""\brequire(?:\.resolve)?\s*\(\s*(["'])([^"'\n]+)\1\s*\)"""),
)
_JS_BLOCK_COMMENT: Final = re.compile(r"/\*.*?\*/", re.DOTALL)
_JS_LINE_COMMENT: Final = re.compile(r"^\s*//.*$", re.MULTILINE)


def _blank_keep_lines(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def js_specifiers(code: str) -> list[tuple[str, int]]:
    """(module specifier, code line) for each import/require in a JS/TS snippet."""
    text = _JS_BLOCK_COMMENT.sub(_blank_keep_lines, code)
    text = _JS_LINE_COMMENT.sub(_blank_keep_lines, text)
    found: dict[tuple[str, int], None] = {}
    for pattern in _JS_SPECIFIERS:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start(2)) + 1
            found[(match.group(2).strip(), line)] = None
    return sorted(found, key=lambda item: item[1])


def npm_package(specifier: str) -> str:
    """The npm package a module specifier needs, or ``!reason`` when it needs none."""
    spec = specifier.strip()
    if spec.startswith("npm:"):  # Deno: npm:express@4/router
        spec = spec[4:]
        spec = re.sub(r"^(@?[^@/]+(?:/[^@/]+)?)@[^/]*", r"\1", spec)
    if not spec:
        return "!not-a-name"
    if spec.startswith((".", "/")):
        return "!relative"
    if spec.startswith("node:"):
        return "!node-core"
    if spec.startswith(("~/", "@/", "#", "$", "~")) or ":" in spec:
        return "!local"  # tsconfig/bundler aliases, URLs, virtual modules
    spec = spec.split("?", 1)[0]
    parts = spec.split("/")
    if spec.startswith("@"):
        if len(parts) < 2 or not parts[1]:
            return "!not-a-name"
        name = f"{parts[0]}/{parts[1]}"
    else:
        name = parts[0]
        bare, _ = node_core()
        if name in bare:
            return "!node-core"
    if not is_valid("npm", name):
        return "!not-a-name"
    return name
