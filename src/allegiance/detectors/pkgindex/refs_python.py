"""Python references: imports, ``setup.py`` requirements, and what is not a package.

Imports are read with :mod:`ast` (never executed); code that does not parse (answers cut
off by ``max_tokens``, Python 2, notebook ``!pip`` lines) falls back to a line regex. An
import name becomes the PyPI distribution a user would install, through the map in
``data/python_imports.json`` (``yaml`` → PyYAML, ``cv2`` → opencv-python) and the
namespace-package rule (``google.cloud.storage`` → google-cloud-storage). Standard-library
modules (``sys.stdlib_module_names`` plus removed and Python 2 names), platform modules no
PyPI project provides (``arcpy``, MicroPython's ``machine`` …) and placeholders
(``your_module``) are reported as skipped with their reason.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

DATA_DIR: Final = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class _PythonData:
    import_map: dict[str, str]
    namespace_roots: frozenset[str]
    not_on_pypi: frozenset[str]
    placeholders: frozenset[str]
    stdlib: frozenset[str]


@lru_cache(maxsize=1)
def python_data() -> _PythonData:
    raw = json.loads((DATA_DIR / "python_imports.json").read_text(encoding="utf-8"))
    extra = data_lines("python_stdlib_extra.txt")
    return _PythonData(
        import_map=dict(raw["import_to_distribution"]),
        namespace_roots=frozenset(raw["namespace_roots"]),
        not_on_pypi=frozenset(raw["not_on_pypi"]),
        placeholders=frozenset(p.lower() for p in raw["placeholders"]),
        stdlib=frozenset(sys.stdlib_module_names) | frozenset(extra) | {"__future__", "__main__"},
    )


def data_lines(filename: str) -> list[str]:
    text = (DATA_DIR / filename).read_text(encoding="utf-8")
    return [s for s in (line.split("#", 1)[0].strip() for line in text.splitlines()) if s]


_IMPORT_ERRORS: Final = frozenset(
    {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
)
_DYNAMIC_IMPORTS: Final = frozenset({"import_module", "__import__", "find_spec", "find_loader"})


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for node in types:
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        if name in _IMPORT_ERRORS:
            return True
    return False


def _python_imports_ast(tree: ast.AST) -> Iterator[tuple[str, int, bool]]:
    """(module, 1-based line, guarded) for every absolute import in ``tree``."""

    def visit(node: ast.AST, guarded: bool) -> Iterator[tuple[str, int, bool]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, guarded
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                if node.module in python_data().namespace_roots:
                    # from google.cloud import storage -> google.cloud.storage
                    for alias in node.names:
                        yield f"{node.module}.{alias.name}", node.lineno, guarded
                else:
                    yield node.module, node.lineno, guarded
            elif node.level:
                yield "." * node.level + (node.module or ""), node.lineno, guarded
        elif isinstance(node, ast.Call):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in _DYNAMIC_IMPORTS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield first.value, node.lineno, guarded
        if isinstance(node, ast.Try | ast.TryStar):
            body_guarded = guarded or any(_catches_import_error(h) for h in node.handlers)
            for statement in node.body:
                yield from visit(statement, body_guarded)
            rest: list[ast.AST] = [*node.handlers, *node.orelse, *node.finalbody]
            for part in rest:
                yield from visit(part, guarded)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, guarded)

    yield from visit(tree, False)


_PY_IMPORT_LINE: Final = re.compile(
    r"^\s*(?:import\s+(?P<names>[A-Za-z_][\w.]*(?:\s+as\s+\w+)?(?:\s*,\s*[A-Za-z_][\w.]*"
    r"(?:\s+as\s+\w+)?)*)|from\s+(?P<module>\.*[A-Za-z_][\w.]*|\.+)\s+import\b)"
)


def _python_imports_regex(code: str) -> Iterator[tuple[str, int, bool]]:
    """Line-based fallback for code :mod:`ast` cannot parse (cut-off answers, Python 2)."""
    for number, line in enumerate(code.splitlines(), start=1):
        match = _PY_IMPORT_LINE.match(line)
        if not match:
            continue
        if match.group("module"):
            yield match.group("module"), number, False
            continue
        for part in match.group("names").split(","):
            yield part.split()[0], number, False


_MAGIC_LINE: Final = re.compile(r"^(\s*)[!%].*$", re.MULTILINE)


def python_imports(code: str) -> list[tuple[str, int, bool]]:
    """(module, code line, guarded) for each import in a Python snippet. Never executes it."""
    cleaned = _MAGIC_LINE.sub(r"\1pass", code)  # notebook lines: !pip …, %matplotlib …
    try:
        tree = ast.parse(cleaned)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return list(_python_imports_regex(cleaned))
    return list(_python_imports_ast(tree))


def setup_requires(code: str) -> list[tuple[str, int]]:
    """Literal requirement strings of ``install_requires=[...]`` in a setup.py."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.keyword)
            and node.arg in ("install_requires", "setup_requires")
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            for item in node.value.elts:
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    found.append((item.value, item.lineno))
    return found


def python_distribution(module: str) -> tuple[str, tuple[str, ...]] | str:
    """The PyPI distribution(s) for an absolute import, or the reason to skip it.

    Returns ``(name, alternatives)`` or a skip reason (``stdlib``, ``platform``,
    ``placeholder``, ``not-a-name``).
    """
    data = python_data()
    top = module.split(".", 1)[0]
    if not top.isascii() or not top.isidentifier():
        return "not-a-name"
    if top in data.stdlib or (top.startswith("_") and top.lstrip("_") in data.stdlib):
        return "stdlib"
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        prefix = ".".join(parts[:size])
        if prefix in data.not_on_pypi:
            return "platform"
        if prefix in data.import_map:
            return data.import_map[prefix], ()
    if is_placeholder(top):
        return "placeholder"
    for size in (2, 1):
        root = ".".join(parts[:size])
        if len(parts) > size and (
            root in data.namespace_roots or root + "_" in data.namespace_roots
        ):
            # google.cloud.storage -> google-cloud-storage, else google-cloud, else google
            depth = max(size + 1, min(len(parts), 3))
            names = ["-".join(parts[:d]) for d in range(depth, 0, -1)]
            return names[0], tuple(names[1:])
    return top, ()


_PY_FILE: Final = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\.py\b")
_PY_PACKAGE_DIR: Final = re.compile(r"(?<![\w./])([A-Za-z_]\w*)/(?:[\w-]+/)*[\w-]+\.py\b")
_PY_DEF: Final = re.compile(r"^(?:def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)


def defined_names(code: str) -> frozenset[str]:
    """Top-level functions and classes a snippet defines (an import of one is local)."""
    return frozenset(_PY_DEF.findall(code))


def local_python_modules(*texts: str) -> frozenset[str]:
    """Module names the answer or the prompt defines itself (``utils.py``, ``app/models.py``)."""
    names: set[str] = set()
    for text in texts:
        names.update(_PY_FILE.findall(text))
        names.update(_PY_PACKAGE_DIR.findall(text))
    return frozenset(names)


def is_placeholder(name: str) -> bool:
    """``your_module``, ``my-package``, ``PACKAGE_NAME``: stand-ins, not package names."""
    lowered = name.lower().replace("-", "_")
    if lowered in python_data().placeholders:
        return True
    return bool(re.match(r"^(your|my|some|example)_", lowered)) or (name.isupper() and "_" in name)
