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
            record = json.loads(line)
        except json.JSONDecodeError as problem:
            raise error(f"{where}:{number}: not valid JSON: {problem.msg}") from problem
        except RecursionError:
            raise error(f"{where}:{number}: JSON nested too deeply to read") from None
        if not isinstance(record, dict):
            raise error(f"{where}:{number}: each line must be a JSON object")
        records.append((number, record))
    return records
