"""Fixtures for the artifact scanner tests: write samples to tmp files and scan them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from allegiance.artifacts import FileResult, scan_paths


@pytest.fixture
def scan_bytes(tmp_path: Path) -> Callable[..., FileResult]:
    """Write ``data`` to ``name`` in a temp folder and scan that one file."""

    def run(data: bytes, name: str = "sample.pkl") -> FileResult:
        path = tmp_path / name
        path.write_bytes(data)
        report = scan_paths([path])
        assert len(report.files) == 1
        return report.files[0]

    return run
