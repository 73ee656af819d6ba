"""Classify the globals a pickle imports, from the data file ``data/pickle_globals.yaml``.

Why suffix matching: ``pickle`` resolves a dotted name by walking attributes from the
imported module, so ``numpy.testing._private.utils`` + ``os.system`` *is* ``os.system``.
Scanners that only compared the module string were bypassed this way; we check every
suffix of the attribute path against the deny list.
"""

from __future__ import annotations

import _compat_pickle
import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from allegiance.artifacts.findings import Severity
from allegiance.yaml_safe import safe_load

# Interpreter-internal aliases that pickle resolves to the same objects.
MODULE_ALIASES = {"posix": "os", "nt": "os", "__builtin__": "builtins", "exceptions": "builtins"}


@dataclass(frozen=True)
class Verdict:
    """How one global was classified: ``severity`` is None for allow-listed globals."""

    canonical: str
    severity: Severity | None
    reason: str
    rule: str


@dataclass(frozen=True)
class Policy:
    allow: frozenset[str]
    review: tuple[str, ...]
    deny: tuple[tuple[str, Severity, str], ...]
    dangerous_names: dict[str, Severity]
    loads_like: frozenset[str]


@lru_cache(maxsize=1)
def load_policy() -> Policy:
    """Read the shipped policy (cached: it is immutable data)."""
    text = resources.files("allegiance.artifacts").joinpath("data/pickle_globals.yaml")
    raw = safe_load(text.read_text(encoding="utf-8"))
    deny = tuple(
        (pattern, Severity.parse(sev), reason) for pattern, (sev, reason) in raw["deny"].items()
    )
    return Policy(
        allow=frozenset(raw["allow"]),
        review=tuple(raw["review"]),
        deny=deny,
        dangerous_names={k: Severity.parse(v) for k, v in raw["dangerous_names"].items()},
        loads_like=frozenset(raw["loads_like"]),
    )


def canonical_name(module: str, name: str) -> tuple[str, str]:
    """Apply the Python 2 -> 3 renames that ``pickle`` applies (``fix_imports``) and aliases."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    head, _, rest = module.partition(".")
    if head in MODULE_ALIASES:
        module = MODULE_ALIASES[head] + ("." + rest if rest else "")
    return module, name


def _deny_match(candidate: str, policy: Policy) -> tuple[Severity, str, str] | None:
    best: tuple[Severity, str, str] | None = None
    for pattern, severity, reason in policy.deny:
        hit = fnmatch.fnmatchcase(candidate, pattern)
        if not hit and pattern.endswith(".*"):
            hit = candidate == pattern[:-2]  # the module object itself
        if hit and (best is None or severity > best[0]):
            best = (severity, reason, pattern)
    return best


@lru_cache(maxsize=4096)
def classify(module: str, name: str) -> Verdict:
    """Classify ``module`` + ``name`` (name may be dotted) as allowed, review, deny or unknown."""
    policy = load_policy()
    module, name = canonical_name(module, name)
    full = f"{module}.{name}" if name else module
    if full in policy.allow:
        return Verdict(full, None, "allow-listed", "pickle.allowed")
    name_parts = [p for p in name.split(".") if p] if name else []
    best: tuple[Severity, str, str] | None = _deny_match(full, policy)
    via = ""
    # every suffix of the attribute path: attributes reached *through* the imported module
    for i in range(len(name_parts)):
        candidate = ".".join(name_parts[i:])
        candidate_mod, _ = canonical_name(candidate.split(".")[0], "")
        candidate = ".".join([candidate_mod, *candidate.split(".")[1:]])
        hit = _deny_match(candidate, policy)
        if hit and (best is None or hit[0] > best[0]):
            best = hit
            via = f" (reached through {module}{'.' if i else ''}{'.'.join(name_parts[:i])})"
    for part in name_parts:
        sev = policy.dangerous_names.get(part)
        if sev is not None and (best is None or sev > best[0]):
            best = (sev, f"'{part}' is a dangerous attribute wherever it is reached", part)
            via = ""
    if best is not None:
        return Verdict(full, best[0], best[1] + via, "pickle.dangerous-global")
    # A review pattern ("enum.*") names a module's classes, not a path through its
    # attributes: "enum.bltns.open" walks into the builtins enum imported, so a dotted name
    # (protocol 4 attribute lookup) is never waved through as a known library class. Nor is
    # a function: "pandas.core.*" also matches pandas.core.frame.import_optional_dependency
    # (importlib.import_module by another name) and sklearn's test helper that runs a Python
    # script, so only a class by its name (CamelCase), outside test-helper modules, passes.
    if (
        "." not in name
        and _looks_like_class(name)
        and not {"testing", "_testing"} & set(module.split("."))
        and any(fnmatch.fnmatchcase(full, p) for p in policy.review)
    ):
        return Verdict(full, Severity.LOW, "known ML library class", "pickle.review-global")
    return Verdict(full, Severity.MEDIUM, "not on the allow list", "pickle.unknown-global")


def _looks_like_class(name: str) -> bool:
    return name[:1].isupper()


def is_loads_like(module: str, name: str) -> bool:
    """True for callables whose bytes argument is itself a pickle."""
    module, name = canonical_name(module, name)
    return f"{module}.{name}" in load_policy().loads_like
