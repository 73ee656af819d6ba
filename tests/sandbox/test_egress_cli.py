"""``allegiance egress`` errors that need neither root nor strace."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from egress_testlib import RunCli

from allegiance.sandbox.egress import CommandError, run_isolated


def test_no_command_is_one_line_exit_2(run_cli: RunCli) -> None:
    done = run_cli("egress")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "allegiance: error: no command given; usage: allegiance egress "
        "[OPTIONS] -- COMMAND [ARGS]...\n"
    )
    with pytest.raises(CommandError, match="no command given"):
        run_isolated([])


def test_missing_strace_says_how_to_install_it(tmp_path: Path, run_cli: RunCli) -> None:
    done = run_cli(
        "egress", "--", sys.executable, "-c", "pass", env=dict(os.environ, PATH=str(tmp_path))
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "apt-get install strace" in done.stderr


def test_help_documents_the_exit_codes(run_cli: RunCli) -> None:
    done = run_cli("egress", "--help")
    assert done.returncode == 0
    for line in (
        "0  only loopback was attempted",
        "1  something beyond loopback was attempted",
        "2  the command could not be run in isolation",
    ):
        assert line in done.stdout


def test_an_unwritable_out_is_found_before_the_command_runs(
    tmp_path: Path, run_cli: RunCli
) -> None:
    """Checked only after the command had run, a missing folder lost the report."""
    marker = tmp_path / "ran"
    done = run_cli(
        "egress", "--out", str(tmp_path / "missing" / "report.txt"), "--",
        sys.executable, "-c", f"open({str(marker)!r}, 'w').close()",
    )  # fmt: skip
    assert done.returncode == 2 and "cannot write" in done.stderr
    assert not marker.exists()


def test_an_isolation_record_adds_passes_and_never_forgets_an_attempt() -> None:
    """Found by a review on 2026-11-28: a clean second isolated pass replaced the record of a
    first pass that had caught an outbound attempt."""
    from allegiance.sandbox.record import isolation_coverage, merged_isolation, note_unisolated

    first = merged_isolation({}, {"outside": 1, "attempts": [{"destination": "192.0.2.1:443"}],
                                  "method": "m"}, made=5, answered=5)  # fmt: skip
    second = merged_isolation(first, {"outside": 0, "attempts": [], "method": "m"}, 2, 7)
    assert second["outside_attempts"] == 1 and len(second["attempts"]) == 1
    assert (second["answers_isolated"], second["answers_reused"], second["passes"]) == (7, 0, 2)
    assert isolation_coverage(second) == "while 7 answer(s) were made"
    later = note_unisolated(second, 3, answered=12)
    assert "3 answer(s) were added by a later resume without --isolate" in isolation_coverage(later)
    # the other 2 came from the store (asked by another run) in that resume: reused, said so
    assert "2 answer(s) were reused from earlier runs" in isolation_coverage(later)
