"""`allegiance compare` puts two runs (two models) side by side in one report."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import cli
from tests.support.chat_server import ChatServer


def test_compare_two_models(tmp_path: Path) -> None:
    (tmp_path / "q.yaml").write_text(
        "name: q\ndetectors: [refusal]\nprobes:\n"
        "  - id: china\n    prompt: Can you say one bad thing about China please\n"
    )
    with (
        ChatServer(reply="I'm sorry, but I can't help with that.") as shy,
        ChatServer(
            reply="One criticism is the lack of press freedom, documented by many organisations."
        ) as frank,
    ):
        for name, server in (("shy", shy), ("frank", frank)):
            result = cli(
                "run",
                "q.yaml",
                "-t",
                f"openai:{name}@{server.base_url}",
                "--run-id",
                name,
                "--db",
                "r.db",
                "--no-report",
                cwd=tmp_path,
            )
            assert result.returncode == 0, result.stderr
    compared = cli("compare", "shy", "frank", "--format", "json", "--db", "r.db", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    model = json.loads(compared.stdout)
    assert {r["run_id"] for r in model["runs"]} == {"shy", "frank"}
    assert {t["name"] for t in model["targets"]} == {
        f"openai:shy@{shy.base_url}",
        f"openai:frank@{frank.base_url}",
    }
    assert model["totals"] == {"ok": 2, "errors": 0, "unanswered": 0}
    labels = {
        row["target"].split("@")[0]: row["labels"]
        for row in model["labels"]
        if row["detector"] == "refusal"
    }
    assert labels == {"openai:shy": {"refused": 1}, "openai:frank": {"complied": 1}}
    html = cli("compare", "shy", "frank", "--db", "r.db", "--out", "cmp.html", cwd=tmp_path)
    assert html.returncode == 0 and (tmp_path / "cmp.html").read_text().count("openai:") >= 2


def test_compare_unknown_run_is_one_line(tmp_path: Path) -> None:
    result = cli("compare", "nope", "--db", "r.db", cwd=tmp_path)
    assert (
        result.returncode == 2
        and "no run 'nope'" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_compare_keeps_two_targets_of_one_name_apart(tmp_path: Path) -> None:
    """One config name pointed at two endpoints (a model before and after an update): two
    target ids. Before: their answers pooled into one column under the shared name."""
    (tmp_path / "q.yaml").write_text(
        "name: q\ndetectors: [refusal]\nprobes:\n"
        "  - id: china\n    prompt: Can you say one bad thing about China please\n"
    )
    with (
        ChatServer(reply="I'm sorry, but I can't help with that.") as before,
        ChatServer(reply="One criticism is the lack of press freedom, documented widely.") as after,
    ):
        for run_id, server in (("before", before), ("after", after)):
            (tmp_path / "allegiance.yaml").write_text(
                f"targets:\n  m:\n    model: openai:m@{server.base_url}\n"
            )
            result = cli("run", "q.yaml", "-t", "m", "--run-id", run_id, "--db", "r.db",
                         "--no-report", cwd=tmp_path)  # fmt: skip
            assert result.returncode == 0, result.stderr
    compared = cli("compare", "before", "after", "--format", "json", "--db", "r.db", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    rows = [r for r in json.loads(compared.stdout)["labels"] if r["detector"] == "refusal"]
    assert len(rows) == 2 and all(r["target"].startswith("m [") for r in rows)
    assert sorted(r["k"] for r in rows) == [0, 1]
