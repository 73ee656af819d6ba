"""Fixtures and skips for the sandbox tests.

Tests marked ``netns`` really create namespaces and run strace. They are skipped, with
the reason, only when the machine cannot do that at all: not Linux, no strace, or
neither root nor unprivileged user namespaces. The check looks at the system, not at
our code, so a bug in the sandbox fails these tests instead of skipping them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from egress_testlib import RunCli, netns_unavailable_reason
from egress_testlib import run_cli as _run_cli

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = netns_unavailable_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"needs root or user namespaces, and strace: {reason}")
    for item in items:
        if "netns" in item.keywords and HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``allegiance ARGS`` in a fresh interpreter, as a user would."""
    return _run_cli
