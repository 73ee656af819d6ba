"""JSON Lines reading shared by suites and `allegiance judge`: one object per line, and
an error that names the file and line when a line is not a JSON object."""

from __future__ import annotations

import json
from typing import Any

from allegiance.errors import AllegianceError


def read_objects(
    text: str, where: str, error: type[AllegianceError]
) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of ``text``."""
    records = []
    # "\n" only: str.splitlines() would also split on U+2028 and friends inside a JSON string
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_no_constant, parse_float=_finite_float)
        except json.JSONDecodeError as problem:
            raise error(f"{where}:{number}: not valid JSON: {problem.msg}") from problem
        except RecursionError:
            raise error(f"{where}:{number}: JSON nested too deeply to read") from None
        except ValueError as problem:  # NaN/Infinity, 1e400, an integer of 5,000 digits
            raise error(f"{where}:{number}: not valid JSON: {problem}") from None
        if not isinstance(record, dict):
            raise error(f"{where}:{number}: each line must be a JSON object")
        records.append((number, record))
    return records


def _no_constant(name: str) -> Any:
    """Python's json reads NaN and Infinity, which JSON does not have (and writing them
    back would make output other readers reject)."""
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is out of range")
    return value
