"""Dependency manifests in code blocks: requirements.txt, pyproject.toml, package.json.

Manifests are parsed as data (:mod:`tomllib`, :mod:`json`), never executed. A
``package.json`` that is not strict JSON (comments, trailing commas, ``...`` ellipses, as
models write them) is read table by table with a regex instead. ``setup.py`` is Python and
is handled with the imports (:mod:`.refs_python`).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any, Final

from allegiance.detectors.pkgindex.names import is_valid, requirement_name


def requirements_txt_names(code: str) -> Iterator[tuple[str, int]]:
    for number, line in enumerate(code.splitlines(), start=1):
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith(("#", "-", ".", "/")) or "://" in text:
            continue
        name = requirement_name("pypi", text.split()[0])
        if name:
            yield name, number


def _table(data: Any, name: str) -> dict[str, Any]:
    """``data[name]`` if it is a TOML table, else an empty one (models write odd TOML)."""
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def pyproject_names(code: str) -> Iterator[tuple[str, int]]:
    try:
        data = tomllib.loads(code)
    except (tomllib.TOMLDecodeError, ValueError):
        return
    project = _table(data, "project")
    specs: list[Any] = list(project.get("dependencies") or [])
    for group in _table(project, "optional-dependencies").values():
        specs += list(group or [])
    for group in _table(data, "dependency-groups").values():
        specs += list(group or []) if isinstance(group, list) else []
    specs += list(_table(data, "build-system").get("requires") or [])
    names = [requirement_name("pypi", s.strip()) for s in specs if isinstance(s, str)]
    found = [n for n in names if n]
    poetry = _table(_table(data, "tool"), "poetry")
    tables = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies")]
    tables += [_table(group, "dependencies") for group in _table(poetry, "group").values()]
    for table in tables:
        found += [n for n in table if n.lower() != "python" and is_valid("pypi", n)]
    lines = code.splitlines()
    for name in dict.fromkeys(found):
        yield name, _line_of(lines, name)


_JSON_DEP_TABLE: Final = re.compile(
    r'"(?:dependencies|devDependencies|peerDependencies|optionalDependencies)"\s*:\s*\{([^{}]*)\}'
)
_JSON_DEP: Final = re.compile(r'"([^"\n]+)"\s*:\s*"([^"\n]*)"')


def package_json_names(code: str) -> Iterator[tuple[str, int]]:
    deps: dict[str, str] = {}
    try:
        data = json.loads(code)
        if isinstance(data, dict):
            for table in ("dependencies", "devDependencies", "peerDependencies",
                          "optionalDependencies"):  # fmt: skip
                if isinstance(data.get(table), dict):
                    deps.update({str(k): str(v) for k, v in data[table].items()})
    except ValueError:  # comments, trailing commas, "..." ellipses: read the tables by regex
        for match in _JSON_DEP_TABLE.finditer(code):
            deps.update(dict(_JSON_DEP.findall(match.group(1))))
    lines = code.splitlines()
    for name, version in deps.items():
        if version.startswith(("file:", "link:", "workspace:", "portal:")):
            continue
        if is_valid("npm", name):
            yield name, _line_of(lines, f'"{name}"')


def _line_of(lines: list[str], needle: str) -> int:
    for number, line in enumerate(lines, start=1):
        if needle in line:
            return number
    return 1
