"""Shared fixtures. Tests run against real components: loopback HTTP servers, real files,
SQLite on disk, and (marked `model`) the real embedded model."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.chat_server import ChatServer

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture()
def chat_server() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the real `allegiance` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "allegiance", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def embedded_model_available(name: str = "qwen2.5-coder-0.5b") -> bool:
    from allegiance.errors import AllegianceError
    from allegiance.targets.embedded import lookup, part_paths

    try:
        part_paths(lookup(name))
    except AllegianceError:
        return False
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        return False
    return True


requires_model = pytest.mark.skipif(
    not embedded_model_available(),
    reason="embedded model packages not installed (requirements/models.txt)",
)
