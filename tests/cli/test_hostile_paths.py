"""Inputs that once lost data, hung, crashed or leaked: other programs' databases, outputs
aimed at inputs, named pipes, deep nesting, NaN options, credentials in URLs, runs in which
nothing was answered. Each must end in one clear line and leave what was recorded intact."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from allegiance.store.sqlite import Store
from allegiance.yaml_safe import uses_libyaml
from tests.cli.test_bad_input import _assert_one_line_error
from tests.conftest import cli
from tests.support.chat_server import ChatServer


def _results_db(path: Path) -> None:
    with Store.open(path) as store:
        store.begin_run("r1", "test", {})
        store.finish_run("r1", "complete")


def _tables_and_mode(path: Path) -> tuple[list[str], str]:
    db = sqlite3.connect(path)
    try:
        tables = sorted(n for (n,) in db.execute("SELECT name FROM sqlite_master"))
        return tables, db.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("command", [["runs"], ["report", "--format", "md"], ["run", "smoke"]])
def test_another_programs_sqlite_file_is_refused_untouched(
    tmp_path: Path, command: list[str]
) -> None:
    # MLflow keeps a `runs` table too; before, `runs` crashed on it and `run` added ours
    other = tmp_path / "mlflow.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE runs (run_uuid TEXT, name TEXT)")
    db.commit()
    db.close()
    before = other.read_bytes()
    result = (
        cli(*command, "-t", "openai:m@http://127.0.0.1:9/v1", "--db", str(other), cwd=tmp_path)
        if command[0] == "run"
        else cli(*command, "--db", str(other), cwd=tmp_path)
    )
    _assert_one_line_error(result, "not an allegiance results database")
    assert other.read_bytes() == before
    assert _tables_and_mode(other) == (["runs"], "delete")


def test_a_garbled_schema_version_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    _results_db(tmp_path / "r.db")
    db = sqlite3.connect(tmp_path / "r.db")
    db.execute("UPDATE meta SET value='abc' WHERE key='schema_version'")
    db.commit()
    db.close()
    _assert_one_line_error(cli("runs", "--db", "r.db", cwd=tmp_path), "not an allegiance")


def test_an_empty_file_is_not_read_as_a_database_but_run_may_start_one(tmp_path: Path) -> None:
    (tmp_path / "e.db").write_bytes(b"")
    _assert_one_line_error(cli("runs", "--db", "e.db", cwd=tmp_path), "empty")
    assert (tmp_path / "e.db").read_bytes() == b""
    with Store.open(tmp_path / "e.db") as store:
        assert store.list_runs() == []


@pytest.mark.parametrize("target", ["r.db", "r.db-wal", "./r.db"])
@pytest.mark.parametrize("command", ["report", "compare"])
def test_out_cannot_overwrite_the_results_database(
    tmp_path: Path, command: str, target: str
) -> None:
    _results_db(tmp_path / "r.db")
    before = (tmp_path / "r.db").read_bytes()
    result = cli(command, "r1", "--db", "r.db", "--format", "md", "--out", target, cwd=tmp_path)
    _assert_one_line_error(result, "would overwrite the results database")
    assert (tmp_path / "r.db").read_bytes() == before
    assert "r1" in cli("runs", "--db", "r.db", cwd=tmp_path).stdout


def test_scan_output_cannot_overwrite_a_scanned_file(tmp_path: Path) -> None:
    model = tmp_path / "models" / "m.pkl"
    model.parent.mkdir()
    model.write_bytes(b"\x80\x04K\x01.")
    for out in ("models/m.pkl", "models/../models/m.pkl"):
        for scanned in ("models", "models/m.pkl"):
            result = cli("scan", scanned, "-o", out, cwd=tmp_path)
            _assert_one_line_error(result, "would overwrite the scanned path")
            assert model.read_bytes() == b"\x80\x04K\x01."
    # a new file inside the scanned folder is fine
    assert cli("scan", "models", "-o", "models/report.txt", cwd=tmp_path).returncode == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_scan_skips_a_named_pipe_instead_of_waiting_for_a_writer(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "dir" / "pipe.pkl")
    for path in ("dir", "dir/pipe.pkl"):
        result = cli("scan", path, cwd=tmp_path, timeout=60)
        assert result.returncode == 2, result.stderr  # skipped: nothing was scanned
        assert "skipped" in result.stdout and "Traceback" not in result.stderr


def test_deep_nesting_is_an_error_line(tmp_path: Path) -> None:
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    nested = "[" * 10_000 + "]" * 10_000
    (tmp_path / "deep.yaml").write_text(f"name: d\nprobes:\n- id: a\n  prompt: {nested}\n")
    (tmp_path / "deepc.yaml").write_text(f"targets: {nested}\n")
    _assert_one_line_error(cli("judge", "-d", "refusal", "deep.jsonl", cwd=tmp_path), "deeply")
    _assert_one_line_error(cli("suites", "deep.jsonl", cwd=tmp_path), "deeply")
    # libyaml stops at its own nesting limit; the pure-Python parser hits Python's
    yaml_says = "maximum nesting depth" if uses_libyaml() else "deeply"
    _assert_one_line_error(cli("suites", "deep.yaml", cwd=tmp_path), yaml_says)
    _assert_one_line_error(cli("models", "--config", "deepc.yaml", cwd=tmp_path), yaml_says)


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--p1", "nan", "--p2", "0.5"],
        ["plan", "--p1", "0.1", "--p2", "0.5", "--power", "nan"],
        ["run", "smoke", "-t", "x", "--temperature", "nan"],
        ["run", "smoke", "-t", "x", "--timeout", "nan"],
        ["egress", "--timeout", "inf", "--", "true"],
    ],
)
def test_nan_and_infinity_are_refused(tmp_path: Path, args: list[str]) -> None:
    _assert_one_line_error(
        cli(*args, "--db", "r.db", cwd=tmp_path) if args[0] == "run" else cli(*args, cwd=tmp_path),
        "not a finite number" if "inf" not in args else "finite",
    )
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://127.0.0.1:99999/v1", "Port out of range"),
        ("http://127.0.0.1:abc/v1", "malformed"),
        ("http://[::1/v1", "malformed"),
        ("http:///v1", "names no host"),
    ],
)
def test_malformed_target_urls(tmp_path: Path, url: str, needle: str) -> None:
    result = cli("run", "smoke", "-t", f"openai:m@{url}", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, needle)


def test_credentials_in_a_target_url_are_refused_and_never_printed(tmp_path: Path) -> None:
    url = "http://user:sk-SECRET-123@127.0.0.1:9/v1"
    for args in (["run", "smoke", "-t", f"openai:m@{url}", "--db", "r.db"],
                 ["judge", "-d", "refusal", "a.jsonl", "--judge", f"openai:m@{url}"]):  # fmt: skip
        (tmp_path / "a.jsonl").write_text('{"prompt": "hi", "response": "hello"}\n')
        result = cli(*args, cwd=tmp_path)
        _assert_one_line_error(result, "must not carry credentials")
        assert "sk-SECRET" not in result.stderr + result.stdout
    if (tmp_path / "r.db").exists():
        assert b"sk-SECRET" not in (tmp_path / "r.db").read_bytes()


def test_a_key_in_the_query_string_is_refused_and_never_stored(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/v1?key=sk-SECRET-123"
    result = cli("run", "smoke", "-t", f"openai:m@{url}", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "must not carry a query")
    assert "sk-SECRET" not in result.stderr + result.stdout
    assert not (tmp_path / "r.db").exists() or b"sk-SECRET" not in (tmp_path / "r.db").read_bytes()


def test_latest_is_not_a_run_id(tmp_path: Path) -> None:
    result = cli("run", "smoke", "-t", "x", "--run-id", "latest", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "reserved for the newest run")


def test_a_gate_fails_when_some_attempts_failed(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("What is 2+2?\nnope [401]\n")
    with ChatServer(reply="Four.") as server:
        target = f"openai:m@{server.base_url}"
        plain = cli("run", "p.txt", "-t", target, "--db", "r.db", "--no-report",
                    "--run-id", "a", cwd=tmp_path)  # fmt: skip
        gate = cli("run", "p.txt", "-t", target, "--db", "r.db", "--no-report",
                   "--run-id", "b", "--fail-on-findings", cwd=tmp_path)  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert gate.returncode == 1 and "1 attempt(s) failed" in gate.stderr
    assert "1 errors" in gate.stdout


def test_repro_whose_every_request_fails_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("What is 2+2?\n")
    broken = False

    def answer(messages: list[dict[str, str]]) -> str:
        if broken:  # the server still listens, but every request now fails
            raise RuntimeError("backend down")
        return "Four."

    with ChatServer(responder=answer) as server:
        cli("run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db", "--no-report",
            "--run-id", "a", cwd=tmp_path)  # fmt: skip
        with Store.open(tmp_path / "r.db") as store:
            (attempt,) = store.run_attempts("a")
        broken = True
        result = cli("repro", attempt.attempt_id, "--times", "2", "--db", "r.db", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "all 2 request(s)" in result.stderr


def test_repro_says_when_the_stored_request_was_edited_and_rejects_a_malformed_one(
    tmp_path: Path,
) -> None:
    """An edited stored request was sent and "recurred 1/1" printed for a question never
    asked; a request missing its seed was a KeyError traceback."""
    import json
    import sqlite3

    (tmp_path / "p.txt").write_text("What is 2+2?\n")
    with ChatServer(reply="Four.") as server:
        cli("run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db", "--no-report",
            "--run-id", "a", cwd=tmp_path)  # fmt: skip
        with sqlite3.connect(tmp_path / "r.db") as db:
            attempt_id, raw = db.execute("SELECT attempt_id, request FROM attempts").fetchone()
            request = json.loads(raw)
            request["messages"][-1]["content"] = "EDITED: what is 3+3?"
            db.execute("UPDATE attempts SET request=?", (json.dumps(request),))
        edited = cli("repro", attempt_id, "--db", "r.db", cwd=tmp_path)
        assert edited.returncode == 0, edited.stderr
        assert "no longer hashes to this attempt's id" in edited.stderr
        del request["seed"]
        with sqlite3.connect(tmp_path / "r.db") as db:
            db.execute("UPDATE attempts SET request=?", (json.dumps(request),))
        malformed = cli("repro", attempt_id, "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(malformed, "its stored request is malformed")


@pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("unshare"),
    reason="a read-only bind mount needs root and util-linux unshare",
)
def test_a_database_on_read_only_media_is_still_readable(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "ro").mkdir()
    _results_db(tmp_path / "src" / "r.db")
    script = (
        f"mount --bind {tmp_path / 'src'} {tmp_path / 'ro'} && "
        f"mount -o remount,ro,bind {tmp_path / 'ro'} && "
        f"{sys.executable} -m allegiance runs --db {tmp_path / 'ro' / 'r.db'}"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "mount:" in result.stderr or "unshare:" in result.stderr:
        pytest.skip(f"cannot make a read-only mount here: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr
    assert "r1" in result.stdout and "nothing new is saved" in result.stderr


def test_help_pages_send_no_control_characters(tmp_path: Path) -> None:
    # `show --help` once sent a raw ESC while promising that control characters are escaped
    for command in ("show", "judge", "run", "scan", "report"):
        result = cli(command, "--help", cwd=tmp_path)
        assert result.returncode == 0
        assert not any(ord(c) < 32 and c not in "\n\t" for c in result.stdout), command
    judge_help = " ".join(cli("judge", "--help", cwd=tmp_path).stdout.split())
    assert "--api-key-env TEXT Environment variable with the --judge target's API key" in judge_help


def test_errors_come_before_any_output(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("targets: [1, 2")
    models = cli("models", "--config", "bad.yaml", "--db", "none.db", cwd=tmp_path)
    assert models.returncode == 2 and models.stdout == ""
    plan = cli("plan", "--p1", "0.5", "--p2", "0.5", cwd=tmp_path)
    assert plan.returncode == 2 and plan.stdout == "" and "must differ" in plan.stderr
    assert "power 99.9%" in cli("plan", "--power", "0.999", cwd=tmp_path).stdout


def test_a_rejected_target_leaves_no_new_database(tmp_path: Path) -> None:
    for target in ("nonsense", "openai:m@http://127.0.0.1:9/v1"):
        result = cli("run", "smoke", "-t", target, "--db", "new.db", cwd=tmp_path)
        assert result.returncode == 2
        assert not list(tmp_path.glob("new.db*"))
    # an existing database stays, runs and all
    _results_db(tmp_path / "r.db")
    cli("run", "smoke", "-t", "nonsense", "--db", "r.db", cwd=tmp_path)
    assert "r1" in cli("runs", "--db", "r.db", cwd=tmp_path).stdout


def test_repro_warns_when_the_server_now_serves_another_model(tmp_path: Path) -> None:
    """Found by a review on 2026-11-28: a hosted name can point at new weights; the server
    said "m-v2" where the recorded answer said "m-v1", and repro compared them silently."""
    from tests.targets.raw_server import RawServer, Reply, completion

    served = {"model": "m-v1"}
    (tmp_path / "p.txt").write_text("What is 2+2?\n")
    with RawServer(lambda _: Reply(200, completion({"content": "Four."}, **served))) as server:
        cli("run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db", "--no-report",
            "--run-id", "a", cwd=tmp_path)  # fmt: skip
        with Store.open(tmp_path / "r.db") as store:
            (attempt,) = store.run_attempts("a")
        same = cli("repro", attempt.attempt_id, "--db", "r.db", cwd=tmp_path)
        served["model"] = "m-v2-totally-different"
        changed = cli("repro", attempt.attempt_id, "--db", "r.db", cwd=tmp_path)
    assert same.returncode == 0 and "different model" not in same.stderr
    assert changed.returncode == 0, changed.stderr
    assert "model: m-v1 -> m-v2-totally-different" in changed.stderr


@pytest.mark.parametrize(
    ("update", "what"),
    [
        ("UPDATE attempts SET request='not json'", "an attempt's request is not valid JSON"),
        ("UPDATE attempts SET probe='null'", "an attempt's probe is not a JSON dict"),
        ("UPDATE verdicts SET evidence='{'", "a verdict's evidence is not valid JSON"),
        ("UPDATE runs SET settings='['", "a run's settings is not valid JSON"),
        ("UPDATE runs SET settings='[]'", "a run's settings is not a JSON dict"),
        ("UPDATE targets SET identity='x'", "a target's identity is not valid JSON"),
    ],
)
def test_a_damaged_database_is_one_line_not_a_traceback(
    tmp_path: Path, update: str, what: str
) -> None:
    """Found by a review on 2026-11-28: each of these edits made report, show, runs or
    compare end in a JSONDecodeError or AttributeError traceback."""
    (tmp_path / "p.txt").write_text("What is 2+2?\n")
    with ChatServer(reply="Four.") as server:
        done = cli("run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db",
                   "--no-report", "--run-id", "a", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "r.db") as db:
        attempt_id = db.execute("SELECT attempt_id FROM attempts").fetchone()[0]
        db.execute(update)
    failures = [
        cli(*command, "--db", "r.db", cwd=tmp_path)
        for command in (["report", "a", "--format", "md", "--out", "o.md"], ["show", attempt_id],
                        ["runs"], ["compare", "a", "a", "--format", "md", "--out", "c.md"])
    ]  # fmt: skip
    assert all("Traceback" not in f.stderr for f in failures), [f.stderr for f in failures]
    broken = [f for f in failures if f.returncode != 0]
    assert broken, "at least one command reads the damaged column"
    for failure in broken:
        _assert_one_line_error(failure, "the results database is damaged")
    assert any(what in f.stderr for f in broken)
    if "identity" in update:  # `models` lists the recorded targets: it says why it cannot
        listing = cli("models", "--db", "r.db", cwd=tmp_path)
        assert listing.returncode == 0 and what in listing.stderr


def test_repro_authenticates_with_the_key_variable_its_run_used(tmp_path: Path) -> None:
    """A user review (2026-11-28): `repro` sent no API key, so a reproduction of a run made
    with `--api-key-env` failed with 401. The variable's name is in the run's settings."""
    (tmp_path / "p.txt").write_text("What is 2+2?\n")
    env = {"STUB_KEY": "sk-test-123"}
    with ChatServer(reply="Four.") as server:
        run = cli("run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db",
                  "--no-report", "--run-id", "a", "--api-key-env", "STUB_KEY", cwd=tmp_path,
                  env=env)  # fmt: skip
        assert run.returncode == 0, run.stderr
        with Store.open(tmp_path / "r.db") as store:
            (attempt,) = store.run_attempts("a")
        server.seen_auth.clear()
        result = cli("repro", attempt.attempt_id, "--times", "1", "--db", "r.db",
                     cwd=tmp_path, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert server.seen_auth == ["Bearer sk-test-123"]
    assert "sk-test-123" not in result.stdout + result.stderr
