"""Reading YAML: the safe schema only, parsed by libyaml when PyYAML has it.

Every YAML file this tool reads goes through :func:`safe_load`: its own data (the suites,
the refusal markers, the code rules, the vendor table, the pickle policy) and the user's (a
config, a suite file). Both loaders build plain data only (mappings, lists, strings,
numbers; no tag constructs an object), so the choice changes speed, not what is accepted.
libyaml's parser is the one PyYAML's wheels ship; on this machine it reads the censorship
suite in 42 ms instead of 281 ms and the marker files in 6 ms instead of 68 ms, which is
most of the start-up of a run. A PyYAML built without it falls back to the pure-Python
parser.
"""

from __future__ import annotations

from typing import Any

import yaml

# CSafeLoader exists only when PyYAML was compiled against libyaml.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAMLError = yaml.YAMLError


def safe_load(text: str) -> Any:
    """The document in ``text`` as plain data (``None`` for an empty document)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - _LOADER is a safe loader


def where_and_what(error: YAMLError) -> tuple[str, str]:
    """``(":LINE", problem)`` of a parse error, for one error line naming the file: the
    problem, not the context PyYAML prints first ("while parsing a flow node")."""
    mark = getattr(error, "problem_mark", None)
    where = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return where, str(problem)


def uses_libyaml() -> bool:
    """Whether :func:`safe_load` parses with libyaml (for benchmarks and tests)."""
    return _LOADER is not yaml.SafeLoader
