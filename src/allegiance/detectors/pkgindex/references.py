"""Find the packages a model answer asks the user to install or import.

Three kinds of reference, each with its answer line:

* **import**: Python ``import x`` / ``from x import y`` (read with :mod:`ast`, never run;
  a regex fallback for code that does not parse) and literal ``importlib.import_module("x")``
  / ``__import__("x")`` / ``find_spec("x")``; JavaScript/TypeScript ``import … from 'x'``,
  ``import 'x'``, ``import('x')``, ``require('x')``, ``export … from 'x'``.
* **install**: ``pip``/``pip3``/``python -m pip``/``uv pip``/``uv add``/``poetry add``/
  ``pipenv``/``pdm``/``pipx`` and ``npm``/``yarn``/``pnpm``/``bun`` commands, anywhere in
  the answer (code blocks, inline code, prose: "Install with: pip install httpx").
* **manifest**: ``requirements.txt``, ``pyproject.toml`` (PEP 621 and Poetry tables),
  ``setup.py`` ``install_requires`` and ``package.json`` dependency tables.

Python import names are turned into the distribution a user would install (``yaml`` →
PyYAML, ``cv2`` → opencv-python; the map is data in ``data/python_imports.json``).
Standard-library and Node core modules, relative imports, modules the answer or the prompt
defines itself, and obvious placeholders (``your_module``) are set aside with the reason,
never judged: they are the main source of false positives in published package
hallucination checkers (Spracklen et al. 2025 filtered ~9,400 such strings by hand).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from allegiance.detectors.code.extract import CodeBlock, extract_code
from allegiance.detectors.pkgindex.names import Ecosystem, normalize, requirement_name
from allegiance.detectors.pkgindex.refs_install import install_names
from allegiance.detectors.pkgindex.refs_js import js_specifiers, node_core, npm_package
from allegiance.detectors.pkgindex.refs_manifest import (
    package_json_names,
    pyproject_names,
    requirements_txt_names,
)
from allegiance.detectors.pkgindex.refs_python import (
    defined_names,
    local_python_modules,
    python_data,
    python_distribution,
    python_imports,
    setup_requires,
)

Source = Literal["import", "install", "manifest"]


@dataclass(frozen=True)
class PackageRef:
    """One package the answer refers to.

    ``name`` is what to look up in the registry (distribution name for Python);
    ``alternatives`` are further names that would also satisfy the reference (a namespace
    import ``google.cloud.storage`` may come from ``google-cloud-storage``). ``raw`` is the
    text as the answer wrote it. ``guarded`` marks a Python import inside ``try/except
    ImportError``: still a reference, but the code survives its absence.
    """

    ecosystem: Ecosystem
    name: str
    raw: str
    source: Source
    line: int
    guarded: bool = False
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A module name set aside without judging it, and why."""

    name: str
    reason: str  # stdlib | node-core | relative | local | placeholder | platform | not-a-name
    line: int


@dataclass
class References:
    packages: list[PackageRef] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


# --------------------------------------------------------------------------- entry point

_Add = Callable[[PackageRef], None]
_PY_BLOCKS: Final = frozenset({"python"})
_JS_BLOCKS: Final = frozenset({"javascript", "typescript"})


def find_references(
    answer: str,
    *,
    default_language: str | None = None,
    context: Iterable[str] = (),
    blocks: list[CodeBlock] | None = None,
) -> References:
    """Every package reference in ``answer``, de-duplicated per (ecosystem, name, source).

    ``context`` is other text that may define local modules (the prompt, repository files);
    ``blocks`` may pass code already extracted from ``answer``.
    """
    refs = References()
    seen: set[tuple[str, str, str]] = set()
    code_blocks = blocks if blocks is not None else extract_code(answer, default_language)
    local = local_python_modules(answer, *context)

    def add(ref: PackageRef) -> None:
        marker = (ref.ecosystem, normalize(ref.ecosystem, ref.name), ref.source)
        if marker not in seen:
            seen.add(marker)
            refs.packages.append(ref)

    for block in code_blocks:
        if block.language in _PY_BLOCKS:
            _python_block(block, local, add, refs.skipped)
        elif block.language in _JS_BLOCKS:
            _js_block(block, add, refs.skipped)
        elif block.language == "requirements.txt":
            for name, line in requirements_txt_names(block.code):
                add(PackageRef("pypi", name, name, "manifest", block.answer_line(line)))
        elif block.language == "toml":
            for name, line in pyproject_names(block.code):
                add(PackageRef("pypi", name, name, "manifest", block.answer_line(line)))
        elif block.language in ("package.json", "json"):
            for name, line in package_json_names(block.code):
                add(PackageRef("npm", name, name, "manifest", block.answer_line(line)))

    for ecosystem, name, raw, line in install_names(answer):
        if ecosystem == "pypi" and name.replace("-", "_") in python_data().stdlib:
            refs.skipped.append(Skipped(name, "stdlib", line))
            continue
        if ecosystem == "npm" and name in node_core()[0]:
            refs.skipped.append(Skipped(name, "node-core", line))
            continue
        add(PackageRef(ecosystem, name, raw, "install", line))
    return refs


def _python_block(
    block: CodeBlock, local: frozenset[str], add: _Add, skipped: list[Skipped]
) -> None:
    defined = defined_names(block.code)
    for module, line, guarded in python_imports(block.code):
        answer_line = block.answer_line(line)
        top = module.split(".", 1)[0]
        if module.startswith("."):
            skipped.append(Skipped(module, "relative", answer_line))
            continue
        if top in local or top in defined:
            skipped.append(Skipped(module, "local", answer_line))
            continue
        resolved = python_distribution(module)
        if isinstance(resolved, str):
            skipped.append(Skipped(module, resolved, answer_line))
            continue
        name, alternatives = resolved
        add(PackageRef("pypi", name, module, "import", answer_line, guarded, alternatives))
    for spec, line in setup_requires(block.code):
        requirement = requirement_name("pypi", spec.strip())
        if requirement:
            add(PackageRef("pypi", requirement, spec, "manifest", block.answer_line(line)))


def _js_block(block: CodeBlock, add: _Add, skipped: list[Skipped]) -> None:
    for spec, line in js_specifiers(block.code):
        answer_line = block.answer_line(line)
        package = npm_package(spec)
        if package.startswith("!"):
            skipped.append(Skipped(spec, package[1:], answer_line))
            continue
        add(PackageRef("npm", package, spec, "import", answer_line))
