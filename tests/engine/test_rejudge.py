"""Verdicts follow the answer key: correcting a suite re-judges stored answers without
asking the model again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import cli
from tests.support.chat_server import ChatServer

SUITE = """name: keyed
detectors: [facts]
probes:
  - id: capital
    prompt: "What is the capital of Australia?"
    expect: {{answers: ["{answer}"]}}
"""


def _label(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT label FROM verdicts WHERE detector='facts'").fetchone()[0])


def test_corrected_answer_key_rejudges_from_the_store(tmp_path: Path) -> None:
    with ChatServer(reply="The capital of Australia is Canberra.") as server:
        suite = tmp_path / "keyed.yaml"
        args = [
            "run",
            str(suite),
            "-t",
            f"openai:m@{server.base_url}",
            "--run-id",
            "k",
            "--db",
            "r.db",
            "--no-report",
        ]
        suite.write_text(SUITE.format(answer="sydney"))
        assert cli(*args, cwd=tmp_path).returncode == 0
        assert _label(tmp_path / "r.db") != "correct"
        suite.write_text(SUITE.format(answer="canberra"))
        second = cli(*args, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "(1 already stored, 0 new" in second.stdout and "1 verdicts" in second.stdout
        assert _label(tmp_path / "r.db") == "correct"
        assert sum(server.counts.values()) == 1
