"""kill -9 and Ctrl-C in the middle of a real `allegiance run` subprocess, then resume."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli
from tests.support.chat_server import ChatServer

N = 120


def _run_args(tmp_path: Path, server: ChatServer, run_id: str) -> list[str]:
    """`allegiance run` over the many-question suite, four at a time, no report."""
    return [
        "run", str(tmp_path / "many.txt"), "-t", f"openai:m@{server.base_url}",
        "--concurrency", "4", "--run-id", run_id, "--db", str(tmp_path / "r.db"), "--no-report",
    ]  # fmt: skip


def _start(
    tmp_path: Path, server: ChatServer, run_id: str, *, ignore_sigint: bool = False
) -> subprocess.Popen[str]:
    suite = tmp_path / "many.txt"
    suite.write_text("\n".join(f"question number {i}" for i in range(N)) + "\n")
    return subprocess.Popen(
        [sys.executable, "-m", "allegiance", *_run_args(tmp_path, server, run_id)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT
        # ignored; give the child the terminal's default so Ctrl-C behaves as for a user even
        # when the tests themselves run in the background (nohup, CI runners).
        preexec_fn=_ignore_sigint if ignore_sigint else _default_sigint,
    )


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stored(tmp_path: Path) -> int:
    try:
        with sqlite3.connect(tmp_path / "r.db") as db:
            return int(db.execute("SELECT count(*) FROM attempts WHERE status='ok'").fetchone()[0])
    except sqlite3.Error:
        return 0


def _wait_for(tmp_path: Path, minimum: int, limit: float = 60) -> None:
    deadline = time.time() + limit
    while _stored(tmp_path) < minimum:
        assert time.time() < deadline, "the run made no progress"
        time.sleep(0.05)


def test_kill_9_then_resume_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    with ChatServer(latency=0.05) as server:
        process = _start(tmp_path, server, "killed")
        _wait_for(tmp_path, 20)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        stored_before = _stored(tmp_path)
        assert 20 <= stored_before < N
        sent_before = dict(server.counts)
        # the killed process had no chance to mark its run: `runs` sees its pid is gone
        listing = cli("runs", "--db", "r.db", cwd=tmp_path).stdout
        assert "stopped (killed?)" in listing, listing

        resumed = cli(*_run_args(tmp_path, server, "killed"), cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert "resumed run killed" in resumed.stdout
        with sqlite3.connect(tmp_path / "r.db") as db:
            total = db.execute("SELECT count(*), count(DISTINCT probe_id) FROM attempts").fetchone()
            linked = db.execute(
                "SELECT count(*) FROM run_attempts WHERE run_id='killed'"
            ).fetchone()[0]
            status = db.execute("SELECT status FROM runs WHERE run_id='killed'").fetchone()[0]
        assert total == (N, N) and linked == N and status == "complete"
        # every answer stored before the kill was not asked again
        with sqlite3.connect(tmp_path / "r.db") as db:
            stored_prompts = [
                json
                for (json,) in db.execute(
                    "SELECT json_extract(request, '$.messages[0].content') FROM attempts"
                )
            ]
        assert len(stored_prompts) == N
        repeated = [p for p, n in server.counts.items() if n > 1]
        # at most the requests in flight at the moment of the kill (concurrency 4) were sent twice
        assert len(repeated) <= 4, repeated
        assert all(sent_before.get(p, 0) <= 1 for p in server.counts)


def test_ctrl_c_stops_cleanly_and_resume_completes(tmp_path: Path) -> None:
    with ChatServer(latency=0.05) as server:
        process = _start(tmp_path, server, "interrupted")
        _wait_for(tmp_path, 10)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 130, stderr
        assert "resume with --run-id interrupted" in stderr
        assert "Traceback" not in stderr
        with sqlite3.connect(tmp_path / "r.db") as db:
            status = db.execute("SELECT status FROM runs WHERE run_id='interrupted'").fetchone()[0]
        assert status == "interrupted"
        kept = _stored(tmp_path)
        assert kept >= 10
        # the report of the interrupted run says what it never asked
        report = cli("report", "interrupted", "--db", "r.db", "--format", "json", cwd=tmp_path)
        totals = json.loads(report.stdout)["totals"]
        assert totals["ok"] + totals["errors"] == kept and totals["unanswered"] == N - kept
        # `runs` counts what was stored, of what was planned (it had shown the planned count)
        listing = cli("runs", "--db", "r.db", cwd=tmp_path).stdout
        assert f"{kept} of {N}" in listing, listing
        resumed = cli(*_run_args(tmp_path, server, "interrupted"), cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert f"({kept} already stored" in resumed.stdout
        assert _stored(tmp_path) == N


def test_a_resume_that_would_ask_other_questions_is_refused(tmp_path: Path) -> None:
    """Resuming after editing the suite, or with another seed, planned new attempts next to
    the old ones: a probe was counted twice and the run never completed (2026-11-28)."""
    from tests.cli.test_bad_input import _assert_one_line_error
    from tests.support.chat_server import ChatServer

    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "q0", "prompt": "Question 0"}\n{"id": "q1", "prompt": "Question 1"}\n')
    with ChatServer() as server:
        base = ["run", "s.jsonl", "-t", f"openai:m@{server.base_url}", "--run-id", "r1",
                "--db", "r.db", "--no-report"]  # fmt: skip
        assert cli(*base, cwd=tmp_path).returncode == 0
        _assert_one_line_error(cli(*base, "--seed", "7", cwd=tmp_path), "asked 'q0' differently")
        # a config whose defaults change the temperature changes the questions too
        (tmp_path / "hot.yaml").write_text("defaults:\n  temperature: 0.9\n")
        _assert_one_line_error(
            cli(*base, "--config", "hot.yaml", cwd=tmp_path), "asked 'q0' differently"
        )
        # the default spelt out asks the same questions: a resume, nothing new asked
        same = cli(*base, "--temperature", "0", cwd=tmp_path)
        assert same.returncode == 0 and "(2 already stored, 0 new" in same.stdout, same.stderr
        suite.write_text('{"id": "q0", "prompt": "Q: 0"}\n{"id": "q1", "prompt": "Question 1"}\n')
        _assert_one_line_error(cli(*base, cwd=tmp_path), "asked 'q0' differently")
        asked = sum(server.counts.values())
    assert asked == 2


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_sigterm_is_an_interruption_not_a_run_left_running(tmp_path: Path, sigint: str) -> None:
    """`timeout`, `docker stop` and cancelled CI jobs send SIGTERM: the process died with the
    run left `running` and its answers unjudged. A job a script starts in the background has
    SIGINT ignored: SIGTERM must still stop it."""
    with ChatServer(latency=0.05) as server:
        process = _start(tmp_path, server, "termed", ignore_sigint=sigint == "ignored")
        _wait_for(tmp_path, 10)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
        assert "resume with --run-id termed" in stderr and "Traceback" not in stderr
        with sqlite3.connect(tmp_path / "r.db") as db:
            status = db.execute("SELECT status FROM runs WHERE run_id='termed'").fetchone()[0]
        assert status == "interrupted" and process.returncode != 0


def test_a_run_another_live_process_is_asking_is_not_asked_twice(tmp_path: Path) -> None:
    """Two processes resuming one run at once each sent every missing request."""
    from tests.cli.test_bad_input import _assert_one_line_error

    with ChatServer(latency=0.05) as server:
        process = _start(tmp_path, server, "busy")
        try:
            _wait_for(tmp_path, 5)
            second = cli(*_run_args(tmp_path, server, "busy"), cwd=tmp_path)
            _assert_one_line_error(second, f"is being asked by another process (pid {process.pid})")
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=20)
        # once the first has stopped, the run resumes
        resumed = cli(*_run_args(tmp_path, server, "busy"), cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert _stored(tmp_path) == N
