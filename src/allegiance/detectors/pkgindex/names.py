"""Package names as each registry sees them.

A name found in a model answer is compared with registry names only after both are put in
the registry's own canonical form; otherwise ``PyYAML`` and ``pyyaml`` (one project on PyPI)
would look like two, and a hallucination check would report a real package as missing.

* PyPI: PEP 503 normalisation (case-folded, runs of ``-``, ``_`` and ``.`` become ``-``).
* npm: names are compared as written (npm has a few hundred legacy names with capitals,
  e.g. ``JSONStream``); a lower-cased fallback is tried by the index.

The validity checks also keep hostile strings out of the online lookup URLs: only a name
that passes :func:`is_valid` is ever put into a request path.
"""

from __future__ import annotations

import re
from typing import Final, Literal

Ecosystem = Literal["pypi", "npm"]
ECOSYSTEMS: Final[tuple[Ecosystem, ...]] = ("pypi", "npm")

# PEP 508 names: letters, digits, ``.``, ``_``, ``-``; start and end with a letter or digit.
_PYPI_NAME: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_PYPI_SEPARATORS: Final = re.compile(r"[-_.]+")
# npm: optional ``@scope/``; URL-safe characters; at most 214 characters (npm's own limit).
# No name on the registry starts with '-', '.' or '_' (npm refuses the last two).
_NPM_NAME: Final = re.compile(r"^(?:@[A-Za-z0-9~][A-Za-z0-9._~-]*/)?[A-Za-z0-9~][A-Za-z0-9._~-]*$")


def normalize(ecosystem: Ecosystem, name: str) -> str:
    """The registry's canonical form of ``name`` (see module docstring)."""
    if ecosystem == "pypi":
        return _PYPI_SEPARATORS.sub("-", name).lower()
    return name


def is_valid(ecosystem: Ecosystem, name: str) -> bool:
    """True if ``name`` could be a package name in ``ecosystem`` at all."""
    if not name or len(name) > 214:
        return False
    if ecosystem == "pypi":
        return bool(_PYPI_NAME.match(name))
    return bool(_NPM_NAME.match(name)) and not name.startswith((".", "_"))


def key(ecosystem: Ecosystem, name: str) -> str:
    """A single string for (ecosystem, name), used by the on-disk cache: ``pypi:pyyaml``."""
    return f"{ecosystem}:{normalize(ecosystem, name)}"


_PY_REQ: Final = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?(.*)$")
# What may follow a name in a PEP 508 requirement: version clauses, then a marker or URL.
_PY_SPEC: Final = re.compile(
    r"^(?:\s*(?:===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*,?)*\s*(?:[;@].*)?$"
)
_NPM_REQ: Final = re.compile(r"^((?:@[A-Za-z0-9~-][\w.~-]*/)?[A-Za-z0-9~-][\w.~-]*)(@[^\s]*)?$")


def requirement_name(ecosystem: Ecosystem, token: str) -> str | None:
    """The package named by one requirement (``uvicorn[standard]>=0.20``, ``react@^18``).

    Returns ``""`` for an argument that names no registry package (``user/repo`` GitHub
    shorthand) and None when ``token`` is not a requirement at all (prose).
    """
    if ecosystem == "pypi":
        match = _PY_REQ.match(token)
        if not match:
            return None
        if not _PY_SPEC.match(match.group(3)):
            return None  # "pkg</code", "pygal's": not requirement syntax
        name = match.group(1)
        return name if is_valid("pypi", name) else None
    match = _NPM_REQ.match(token)
    if not match:
        return "" if "/" in token else None
    return match.group(1) if is_valid("npm", match.group(1)) else None
