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


# What a document may expand to once its aliases are followed: every value the data holds,
# counting a string by its length. A suite of 324 probes is ~350,000; a 1 KB "billion laughs"
# of nine aliases nine deep is 387 million, which the loader builds in a blink (an alias is
# one shared object) but hashing, storing or sending it took 9 GB and crashed a run.
MAX_EXPANDED = 20_000_000


def safe_load(text: str) -> Any:
    """The document in ``text`` as plain data (``None`` for an empty document).

    Raises :class:`YAMLError` for a document whose aliases expand it beyond
    :data:`MAX_EXPANDED` values, or make a value contain itself."""
    data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - _LOADER is a safe loader
    size = _expanded_size(data, {})
    if size > MAX_EXPANDED:
        raise YAMLError(
            f"the document expands to more than {MAX_EXPANDED:,} values through its aliases "
            f"(anchors repeated inside anchors): refused"
        )
    return data


_IN_PROGRESS = -1


def _expanded_size(value: Any, seen: dict[int, int]) -> int:
    """How big ``value`` is with every alias expanded, in linear time: an alias is the same
    Python object as its anchor, so each container's size is computed once (by ``id``).
    Recursion depth is bounded by the nesting the parser already accepted."""
    if isinstance(value, str):
        return 1 + len(value)
    # !!pairs, !!omap and !!set build tuples and sets, which aliases repeat as well
    if not isinstance(value, dict | list | tuple | set | frozenset):
        return 1
    known = seen.get(id(value))
    if known == _IN_PROGRESS:  # ``&a [*a]``: every reader after us would loop or fail
        raise YAMLError("a value contains itself through an alias: refused")
    if known is not None:
        return known
    seen[id(value)] = _IN_PROGRESS
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else list(value)
    total = 1
    for item in items:
        total += _expanded_size(item, seen)
        if total > MAX_EXPANDED:
            break
    seen[id(value)] = total
    return total


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
