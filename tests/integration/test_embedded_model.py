"""The whole path on the real embedded Qwen2.5-Coder-0.5B model: run, store, judge, show,
repro, report. Short answers keep it to about half a minute on 2 cores."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import cli, requires_model

pytestmark = [pytest.mark.model, requires_model]

# the smoke suite on the embedded Qwen, short answers, one stored run
SMOKE_RUN = ("run", "smoke", "-t", "local:qwen", "--max-tokens", "24", "--run-id", "smoke1",
             "--db", "r.db")  # fmt: skip


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("smoke")
    result = cli(*SMOKE_RUN, "--out", "out", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "stored run smoke1: 10 attempts (0 already stored, 10 new, 0 errors)" in result.stdout
    return work


def test_every_attempt_is_stored_with_identity_and_verdicts(smoke_run: Path) -> None:
    with sqlite3.connect(smoke_run / "r.db") as db:
        rows = db.execute("SELECT status, response_text, seed FROM attempts").fetchall()
        identity = json.loads(db.execute("SELECT identity FROM targets").fetchone()[0])
        verdicts = db.execute(
            "SELECT detector, count(*) FROM verdicts GROUP BY detector"
        ).fetchall()
        facts = dict(
            db.execute(
                "SELECT a.probe_id, v.label FROM verdicts v JOIN attempts a USING(attempt_id)"
                " WHERE v.detector='facts'"
            ).fetchall()
        )
    assert len(rows) == 10 and all(status == "ok" and text for status, text, _ in rows)
    assert identity["sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert identity["runtime"].startswith("xllamacpp ")
    assert dict(verdicts) == {"refusal": 10, "facts": 5}
    assert facts["capital-france"] == "correct"
    assert facts["add-numbers"] == "correct"


def test_rerun_is_served_from_the_store(smoke_run: Path) -> None:
    again = cli(*SMOKE_RUN, "--no-report", cwd=smoke_run)
    assert again.returncode == 0, again.stderr
    assert "(10 already stored, 0 new, 0 errors)" in again.stdout


def test_show_and_repro_recur_exactly(smoke_run: Path) -> None:
    with sqlite3.connect(smoke_run / "r.db") as db:
        attempt_id, answer = db.execute(
            "SELECT attempt_id, response_text FROM attempts WHERE probe_id='calling-code-886'"
        ).fetchone()
    shown = cli("show", attempt_id[:10], "--db", "r.db", cwd=smoke_run)
    assert shown.returncode == 0 and answer in shown.stdout and "+886" in shown.stdout
    repro = cli("repro", attempt_id[:10], "--times", "2", "--db", "r.db", cwd=smoke_run)
    assert repro.returncode == 0, repro.stderr
    assert "2 new answer(s), 2 identical to the recorded answer" in repro.stdout
    assert re.search(r"facts: recorded '\w+', recurred 2/2", repro.stdout)
    with sqlite3.connect(smoke_run / "r.db") as db:
        assert db.execute("SELECT count(*) FROM repros").fetchone()[0] == 2


def test_report_is_self_contained_and_escaped(smoke_run: Path) -> None:
    html = (smoke_run / "out" / "smoke1" / "report.html").read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html
    assert "1d9614638d18024d" in html
    data = json.loads((smoke_run / "out" / "smoke1" / "report.json").read_text())
    assert data["totals"] == {"ok": 10, "errors": 0, "unanswered": 0}
    md = (smoke_run / "out" / "smoke1" / "report.md").read_text()
    assert "| refusal | local:qwen |" in md
    # the model file's artifact scan (made when the model was assembled) is in the report
    assert [t["artifact_scan"] for t in data["targets"]] == ["clean"]
    assert "<th>artifact scan</th>" in html and "| artifact scan |" in md
