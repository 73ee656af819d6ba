"""`--isolate` on the real embedded model: the run happens inside a network namespace with
only loopback, the egress check is stored with the run, and the report states it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import cli, requires_model

pytestmark = [
    pytest.mark.model,
    pytest.mark.netns,
    requires_model,
    pytest.mark.skipif(
        shutil.which("strace") is None or not hasattr(os, "geteuid") or os.geteuid() != 0,
        reason="needs strace and root (network namespaces)",
    ),
]


def test_isolated_run_records_no_outbound_connection(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("Name one colour of the rainbow.\n")
    result = cli(
        "run",
        "one.txt",
        "-t",
        "local:qwen",
        "--max-tokens",
        "8",
        "--isolate",
        "--run-id",
        "iso",
        "--db",
        "r.db",
        "--out",
        "out",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "egress: no outbound connection attempted (while 1 answer(s) were made). How: ran in"
        in (result.stderr)
    )
    with sqlite3.connect(tmp_path / "r.db") as db:
        status, isolation = db.execute(
            "SELECT status, isolation FROM runs WHERE run_id='iso'"
        ).fetchone()
        answers = db.execute("SELECT count(*) FROM attempts WHERE status='ok'").fetchone()[0]
    record = json.loads(isolation)
    assert status == "complete" and answers == 1
    assert record["checked"] is True and record["outside_attempts"] == 0
    assert "network" in record["method"] and "strace" in record["method"]
    assert record["answers_isolated"] == 1 and record["answers_reused"] == 0
    html = (tmp_path / "out" / "iso" / "report.html").read_text()
    assert "No outbound connection attempted</span> (while 1 answer(s) were made)." in html
    assert "How it was checked" in html

    # Found by a review on 2026-11-28: an isolated run that reused stored answers (made
    # without isolation) vouched for them, and a resume without --isolate kept the statement.
    def run(*extra: str) -> None:
        done = cli("run", "one.txt", "-t", "local:qwen", "--max-tokens", "8", "--db", "r.db",
                   "--out", "out", *extra, cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr

    (tmp_path / "one.txt").write_text("Name one planet.\n")
    run("--run-id", "plain")
    run("--run-id", "iso2", "--isolate")
    md = (tmp_path / "out" / "iso2" / "report.md").read_text()
    assert "while 0 answer(s) were made; 1 answer(s) were reused from earlier runs" in md
    (tmp_path / "one.txt").write_text("Name one planet.\nName one ocean.\n")
    run("--run-id", "iso2")
    md = (tmp_path / "out" / "iso2" / "report.md").read_text()
    assert "1 answer(s) were added by a later resume without --isolate" in md
