"""The CLI with odd input and hostile data: one clear line for every user error, and
nothing from a model ever reaching the terminal as control characters."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from allegiance.cli.common import json_terminal_safe, terminal_safe
from tests.cli.test_bad_input import _assert_one_line_error
from tests.conftest import cli
from tests.support.chat_server import ChatServer
from tests.targets.raw_server import RawServer, Reply, completion

# clear screen, set the window title, write the clipboard (OSC 52), an 8-bit CSI, a bell,
# and a right-to-left override that makes "txt.exe" read as "exe.txt"
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;cm0gLXJmIH4=\x07\x9b31m\u202etxt.exe done"
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e")


def _run_prompt_file(tmp_path: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    """`allegiance run p.txt` (the prompt file the test wrote) against a loopback server."""
    return cli("run", "p.txt", "-t", f"openai:m@{base_url}", "--db", "r.db", "--no-report",
               cwd=tmp_path)  # fmt: skip


def _run_hostile(tmp_path: Path) -> str:
    (tmp_path / "p.txt").write_text("say something\n")
    with ChatServer(reply=HOSTILE) as server:
        result = _run_prompt_file(tmp_path, server.base_url)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "r.db") as db:
        return str(db.execute("SELECT attempt_id FROM attempts").fetchone()[0])


def test_show_never_sends_control_characters_to_the_terminal(tmp_path: Path) -> None:
    attempt_id = _run_hostile(tmp_path)
    shown = cli("show", attempt_id[:10], "--db", "r.db", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert not any(char in shown.stdout for char in UNSAFE), repr(shown.stdout)
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in shown.stdout and "\\u202etxt.exe done" in shown.stdout
    as_json = cli("show", attempt_id, "--json", "--db", "r.db", cwd=tmp_path)
    assert not any(char in as_json.stdout for char in UNSAFE), repr(as_json.stdout)
    # still the same JSON value, byte for byte once parsed
    assert json.loads(as_json.stdout)["response"] == HOSTILE


def test_terminal_safe() -> None:
    assert terminal_safe("a\tb\nc\r\nd") == "a\tb\nc\nd"
    assert terminal_safe("x\ry\x00\x7f") == "x\\x0dy\\x00\\x7f"
    assert terminal_safe("中文 café ✓") == "中文 café ✓"
    assert terminal_safe("\u2066\u061c") == "\\u2066\\u061c"
    text = json.dumps({"a": "\x9b\u202e\x1b"}, ensure_ascii=False)
    assert json.loads(json_terminal_safe(text)) == json.loads(text)
    assert not any(char in json_terminal_safe(text) for char in UNSAFE)


def test_run_error_examples_are_made_safe(tmp_path: Path) -> None:
    """A provider's error message is quoted in the run summary; it is untrusted too."""
    (tmp_path / "p.txt").write_text("hello\n")
    body = f'{{"error": "{HOSTILE.encode("unicode_escape").decode()}"}}'.encode()
    with RawServer(lambda _: Reply(400, body)) as server:
        result = _run_prompt_file(tmp_path, server.base_url)
    assert "error: line-1: HTTP 400" in result.stderr
    assert not any(char in result.stderr for char in UNSAFE), repr(result.stderr)


@pytest.mark.parametrize("prefix", ["%%%%%%", "______", "abc%ef"])
def test_show_with_a_pattern_instead_of_an_id(tmp_path: Path, prefix: str) -> None:
    """Before: the prefix went into SQL LIKE, and '%%%%%%' showed an arbitrary attempt."""
    _run_hostile(tmp_path)
    _assert_one_line_error(
        cli("show", prefix, "--db", "r.db", cwd=tmp_path), "is not an attempt id"
    )


def test_read_only_commands_do_not_create_a_database(tmp_path: Path) -> None:
    for args, needle in [
        (("report",), "no run 'latest' in typo.db: there is no such database"),
        (("report", "r1", "--format", "md"), "no run 'r1' in typo.db"),
        (("compare", "a", "b"), "no run 'a' in typo.db"),
        (("show", "abcdef12"), "no attempt 'abcdef12' in typo.db"),
        (("runs",), "no results database at typo.db"),
    ]:
        _assert_one_line_error(cli(*args, "--db", "typo.db", cwd=tmp_path), needle)
    assert not (tmp_path / "typo.db").exists()


def test_a_database_path_under_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "p.txt").write_text("hello\n")
    with ChatServer() as server:
        result = cli(
            "run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "file/r.db",
            cwd=tmp_path,
        )  # fmt: skip
    _assert_one_line_error(result, "cannot create folder file for results database file/r.db")
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "with space", "-dash", "x" * 101])
def test_run_ids_that_are_not_folder_names_are_refused(tmp_path: Path, run_id: str) -> None:
    (tmp_path / "p.txt").write_text("hello\n")
    with ChatServer() as server:
        result = cli(
            "run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db",
            f"--run-id={run_id}", "--out", "out", cwd=tmp_path,
        )  # fmt: skip
        assert sum(server.counts.values()) == 0
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--run-id" in result.stderr
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out").exists()


def test_plan_with_extreme_rates(tmp_path: Path) -> None:
    result = cli("plan", "--p1", "0", "--p2", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # 0/2 vs 2/2 gives Fisher's p = 0.33: the test the report uses needs 4 per arm
    assert result.stdout.splitlines()[-1].split() == ["0.0%", "100.0%", "4"]


def test_compare_names_each_run_once(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("hello\n")
    with ChatServer() as server:
        for run_id in ("one", "two"):
            result = cli(
                "run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db",
                "--run-id", run_id, "--no-report", cwd=tmp_path,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
    compared = cli("compare", "one", "latest", "two", "--db", "r.db", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert compared.stdout.strip() == "report: allegiance-out/compare-one-two/report.html"
    html = (tmp_path / "allegiance-out" / "compare-one-two" / "report.html").read_text()
    assert html.count("<code>one</code>") == 1 and html.count("<code>two</code>") == 1


def test_judge_bad_expect_and_unwritable_output(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"prompt": "a", "response": "b", "expect": [1]}\n')
    _assert_one_line_error(
        cli("judge", "-d", "facts", "in.jsonl", cwd=tmp_path), "in.jsonl:1: 'expect' must be"
    )
    (tmp_path / "ok.jsonl").write_text('{"prompt": "a", "response": "b"}\n')
    (tmp_path / "file").write_text("x")
    result = cli("judge", "-d", "refusal", "ok.jsonl", "--out", "file/out.jsonl", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write file/out.jsonl" in result.stderr


def test_an_unwritable_report_folder_keeps_the_run(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("hello\n")
    (tmp_path / "file").write_text("x")
    with ChatServer() as server:
        result = cli(
            "run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db",
            "--run-id", "kept", "--out", "file", cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write report file/kept/report.html" in result.stderr
    assert "results are stored" in result.stderr
    assert "stored run kept: 1 attempts" in result.stdout


def test_models_does_not_create_a_database(tmp_path: Path) -> None:
    result = cli("models", "--db", "fresh.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "fresh.db").exists()


def test_isolate_refuses_a_run_that_already_has_unisolated_answers(tmp_path: Path) -> None:
    """Re-running a run id with --isolate would store "no outbound connection" against
    answers made outside the sandbox."""
    (tmp_path / "p.txt").write_text("say something\n")
    with ChatServer() as server:
        target = f"openai:m@{server.base_url}"
        first = cli("run", "p.txt", "-t", target, "--run-id", "rx", "--db", "r.db",
                    "--no-report", cwd=tmp_path)  # fmt: skip
        assert first.returncode == 0, first.stderr
        # (an in-process target: an HTTP one is refused under --isolate before this check)
        again = cli("run", "p.txt", "-t", "local:qwen", "--run-id", "rx", "--db", "r.db",
                    "--isolate", "--no-report", cwd=tmp_path)  # fmt: skip
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1] == (
        "allegiance: error: run rx already has answers made without --isolate; "
        "give a new --run-id to run isolated"
    )
    with sqlite3.connect(tmp_path / "r.db") as db:
        assert db.execute("SELECT isolation FROM runs WHERE run_id='rx'").fetchone() == (None,)


def test_isolate_refuses_an_http_target_before_the_run(tmp_path: Path) -> None:
    """The sandbox has its own loopback: a server on the host's 127.0.0.1 answered
    "connection refused" while it was up, with no word about why."""
    (tmp_path / "p.txt").write_text("say something\n")
    (tmp_path / "c.yaml").write_text(
        "targets:\n  remote: {model: 'openai:m@http://127.0.0.1:9/v1'}\n"
    )
    for target, config in (
        ("openai:m@http://127.0.0.1:9/v1", ()),
        ("remote", ("--config", "c.yaml")),
    ):
        result = cli(
            "run", "p.txt", "-t", target, *config, "--isolate", "--db", "r.db", cwd=tmp_path
        )
        _assert_one_line_error(result, "cannot be reached from there")
    # an HTTP judge too: it was found out after the model had answered everything
    judged = cli("run", "p.txt", "-t", "local:qwen", "--judge", "remote", "--config", "c.yaml",
                 "--isolate", "--db", "r.db", cwd=tmp_path)  # fmt: skip
    _assert_one_line_error(judged, "'remote' cannot be reached from there")
    assert not (tmp_path / "r.db").exists()


def test_a_new_database_another_process_has_open_is_not_deleted(tmp_path: Path) -> None:
    """A run that fails before asking anything removes the database it created, unless
    another process (a second run started on the same new file) has it open."""
    import subprocess
    import sys

    from allegiance.cli.run import _open_elsewhere

    db = tmp_path / "new.db"
    sqlite3.connect(db).close()
    assert _open_elsewhere(str(db)) is False
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('select 1'); print('open', flush=True); time.sleep(30)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        assert _open_elsewhere(str(db)) is True
    finally:
        holder.kill()
        holder.wait()


def test_processes_creating_one_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    """Tables were created before the schema version was written: a second process opening
    the file in between refused it as another program's database (3 in 200 here)."""
    import subprocess
    import sys

    code = "import sys; from allegiance.store.sqlite import Store; Store.open(sys.argv[1]).close()"
    for trial in range(5):
        db = tmp_path / f"t{trial}.db"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(db)], stderr=subprocess.PIPE, text=True
            )
            for _ in range(6)
        ]
        for process in processes:
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err


def test_opening_a_complete_database_takes_no_write_lock(tmp_path: Path) -> None:
    """`runs`/`report`/`show` waited up to 30 s for a writer's transaction to end, because
    opening always ran the schema script in a write transaction."""
    import time

    from allegiance.store.sqlite import Store

    db = tmp_path / "r.db"
    Store.open(db).close()
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with Store.open(db, create=False) as store:
            assert store.list_runs() == []
        assert time.monotonic() - started < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_plan_marks_sample_sizes_from_the_normal_approximation() -> None:
    done = cli("plan", "--p1", "0", "--p2", "0.001")
    assert done.returncode == 0, done.stderr
    assert "3924 *" in done.stdout and "normal approximation" in done.stdout
    small = cli("plan", "--p1", "0.08", "--p2", "0.64")
    assert "*" not in small.stdout


def test_a_file_of_prompts_is_judged_for_refusal(tmp_path: Path) -> None:
    """A .txt suite names no detectors; its run used to store answers and no verdict."""
    (tmp_path / "p.txt").write_text("Tell me a joke\nWhat is 2+2?\n")
    with ChatServer(reply="I'm sorry, but I can't help with that.") as server:
        result = _run_prompt_file(tmp_path, server.base_url)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "r.db") as db:
        labels = db.execute("SELECT detector, label FROM verdicts").fetchall()
    assert labels == [("refusal", "refused"), ("refusal", "refused")]


def test_quick_caps_never_lengthen_the_configs_default_answer_length(tmp_path: Path) -> None:
    """--quick caps answers at 64 tokens; a shorter default (the config's, or one target's
    own) stays shorter."""
    (tmp_path / "p.txt").write_text("hello\n")
    with ChatServer() as server:
        (tmp_path / "allegiance.yaml").write_text(
            "defaults: {max_tokens: 32}\n"
            "targets:\n"
            f"  short: {{model: 'openai:s@{server.base_url}', generation: {{max_tokens: 16}}}}\n"
            f"  long: {{model: 'openai:l@{server.base_url}', generation: {{max_tokens: 900}}}}\n"
        )
        for run_id, extra in (("plain", ()), ("quick", ("--quick",))):
            result = cli(
                "run", "p.txt", "-t", f"openai:m@{server.base_url}", "-t", "short", "-t", "long",
                "--config", "allegiance.yaml", "--run-id", run_id, "--db", "r.db", "--no-report",
                *extra, cwd=tmp_path,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "r.db") as db:
        caps = dict(
            db.execute(
                "SELECT r.run_id || ' ' || t.name, json_extract(a.request, '$.max_tokens') "
                "FROM attempts a JOIN run_attempts r USING (attempt_id) "
                "JOIN targets t USING (target_id)"
            ).fetchall()
        )
    local = "openai:m@" + server.base_url
    assert caps == {
        f"plain {local}": 32, "plain short": 16, "plain long": 900,
        f"quick {local}": 32, "quick short": 16, "quick long": 64,
    }  # fmt: skip


def test_reader_leaving_early_ends_like_a_unix_writer() -> None:
    """`allegiance suites censorship | head -1`: the listing stops quietly with 141 (128 +
    SIGPIPE, as `yes | head -1` does), not 1 as if it had failed, and no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "allegiance", "suites", "censorship"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""


def test_a_language_a_provider_blocks_is_said_not_compared_in_the_report(tmp_path: Path) -> None:
    """A provider that fails every question in Chinese: the report says that the English
    vs Chinese comparison could not be made, instead of leaving it out without a word."""
    import re

    from tests.targets.raw_server import completion

    def respond(payload: dict[str, object]) -> Reply:
        text = json.dumps(payload, ensure_ascii=False)
        if re.search(r"[\u4e00-\u9fff]", text):
            return Reply(400, b'{"error": {"message": "content blocked"}}')
        answer = "On 4 June 1989 troops fired on civilians in and around Tiananmen Square."
        return Reply(200, completion({"role": "assistant", "content": answer}))

    with RawServer(respond) as server:
        result = cli(
            "run", "censorship", "-t", f"openai:m@{server.base_url}", "--db", "r.db",
            "--probe", "tiananmen-1989.*", "--no-report", "--retries", "0", cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = cli("report", "--format", "md", "--db", "r.db", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "tiananmen-1989 in zh vs in en not compared (no judged answers on one side)" in (
        report.stdout
    )
    assert re.search(r"in zh 0 answered, \d+ failed; in en \d+ answered, 0 failed", report.stdout)


def test_the_model_a_server_answered_as_is_shown(tmp_path: Path) -> None:
    """A user review (2026-11-28): a target `openai:gpt-4o@…` answered by a server reporting
    another model said so only in `show --json`."""
    (tmp_path / "p.txt").write_text("hello\n")
    with ChatServer(reply="Hi.") as server:  # the stub reports model "test-model"
        result = cli("run", "p.txt", "-t", f"openai:gpt-4o@{server.base_url}", "--db", "r.db",
                     "--run-id", "r", "--out", "out", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "out" / "r" / "report.md").read_text()
    assert "answered as (model the server reported)" in report
    with sqlite3.connect(tmp_path / "r.db") as db:
        attempt_id, served = db.execute(
            "SELECT attempt_id, model_reported FROM attempts"
        ).fetchone()
    assert served and f"{served} (1)" in report
    shown = cli("show", attempt_id, "--db", "r.db", cwd=tmp_path)
    assert f"answered as {served}" in shown.stdout
    assert "            rule: " in shown.stdout  # why the label, first


def test_a_servers_model_and_provider_cannot_forge_lines_of_show(tmp_path: Path) -> None:
    """An adversarial review (session 13): a model name holding newlines printed a forged
    `verdict   refusal: refused (flagged)` line before the real ones."""
    forged = "gpt-4\nverdict   refusal: refused (flagged)"
    body = completion({"content": "Four."}, model=forged, provider="X\n--- answer ---\nno")
    (tmp_path / "p.txt").write_text("What is 2+2?\n")
    with RawServer(lambda _: Reply(200, body)) as server:
        cli("run", "p.txt", "-t", f"openai:m@{server.base_url}", "--db", "r.db", "--run-id", "r",
            "--no-report", "--retries", "0", cwd=tmp_path)  # fmt: skip
    with sqlite3.connect(tmp_path / "r.db") as db:
        (attempt_id,) = db.execute("SELECT attempt_id FROM attempts").fetchone()
    shown = cli("show", attempt_id, "--db", "r.db", cwd=tmp_path).stdout
    assert "answered as gpt-4\\nverdict   refusal: refused (flagged)" in shown
    assert [line for line in shown.splitlines() if line.startswith("verdict ")] == [
        "verdict   refusal: complied"
    ]
    assert shown.splitlines().count("--- answer ---") == 1
