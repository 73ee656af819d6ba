"""Bad input gets one clear error line and a non-zero exit, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import cli


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_one_line_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode not in (0, None), result.stdout
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith("plan:") and not line.startswith("  ")
    ]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("config_text", "needle"),
    [
        ("targets: [1, 2", "invalid YAML"),
        ("targets:\n  x:\n    modle: local:qwen\n", "targets.x.modle"),
        ("- just a list\n", "must be a mapping"),
        ("defaults:\n  temperature: 9\n", "defaults.temperature"),
        # found by a review on 2026-11-28: .inf reached aiohttp (OverflowError, a traceback)
        ("targets:\n  x:\n    model: local:qwen\n    timeout: .inf\n", "targets.x.timeout"),
        # "" silently sent no key
        ("targets:\n  x:\n    model: local:qwen\n    api_key_env: ''\n", "targets.x.api_key_env"),
    ],
)
def test_bad_config(tmp_path: Path, config_text: str, needle: str) -> None:
    (tmp_path / "bad.yaml").write_text(config_text)
    result = cli("run", "smoke", "-t", "x", "--config", "bad.yaml", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, needle)


def test_unknown_target(tmp_path: Path) -> None:
    result = cli("run", "smoke", "-t", "nonsense", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "unknown target 'nonsense'")


def test_unknown_embedded_model(tmp_path: Path) -> None:
    result = cli("run", "smoke", "-t", "local:nope", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "unknown embedded model 'nope'")


@pytest.mark.parametrize(
    ("targets", "needle"),
    [
        (["openai:gpt-x"], "write OpenAI-compatible targets as openai:MODEL@BASE_URL"),
        (["local:qwen", "local:nope"], "unknown embedded model 'nope'"),
        (["local:missing/model.gguf"], "no such model file"),
        (["local:./"], "is a folder"),
        # found by a review on 2026-11-28: these still came after a plan line
        (["openai:m@http://127.0.0.1:99999/v1"], "malformed"),
        (["openai:m@http://user:pw@127.0.0.1:9/v1"], "must not carry credentials"),
        (["openai:m@http://127.0.0.1:9/v1"], "ALLEGIANCE_TEST_UNSET_KEY is not set"),
    ],
)
def test_mistyped_target_is_the_only_line(tmp_path: Path, targets: list[str], needle: str) -> None:
    """A spec that cannot work is reported before the plan, so the error is all there is
    (it had followed a plan line costing a run that would never start)."""
    args = [arg for spec in targets for arg in ("-t", spec)]
    result = cli("run", "smoke", *args, "--api-key-env", "ALLEGIANCE_TEST_UNSET_KEY",
                 "--db", "r.db", cwd=tmp_path, env={"ALLEGIANCE_TEST_UNSET_KEY": ""})  # fmt: skip
    _assert_one_line_error(result, needle)
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "plan:" not in result.stderr
    assert not (tmp_path / "r.db").exists()


def test_missing_api_key_variable(tmp_path: Path) -> None:
    result = cli(
        "run",
        "smoke",
        "-t",
        "openai:m@http://127.0.0.1:9/v1",
        "--api-key-env",
        "ALLEGIANCE_TEST_UNSET_KEY",
        "--db",
        "r.db",
        cwd=tmp_path,
        env={"ALLEGIANCE_TEST_UNSET_KEY": ""},
    )
    _assert_one_line_error(result, "ALLEGIANCE_TEST_UNSET_KEY is not set")


def test_unreachable_url(tmp_path: Path) -> None:
    port = _closed_port()
    result = cli(
        "run", "smoke", "-t", f"openai:m@http://127.0.0.1:{port}/v1", "--db", "r.db", cwd=tmp_path
    )
    _assert_one_line_error(result, "cannot reach", str(port))


def test_corrupt_gguf(tmp_path: Path) -> None:
    (tmp_path / "broken.gguf").write_bytes(b"NOTAGGUF" + b"\0" * 100)
    result = cli(
        "run", "smoke", "-t", f"local:{tmp_path / 'broken.gguf'}", "--db", "r.db", cwd=tmp_path
    )
    _assert_one_line_error(result, "not a usable GGUF file", "first bytes")


def test_truncated_gguf_with_valid_magic(tmp_path: Path) -> None:
    """Scanned before llama.cpp opens it: the reason, not "Failed to init server"."""
    (tmp_path / "cut.gguf").write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    result = cli(
        "run", "smoke", "-t", f"local:{tmp_path / 'cut.gguf'}", "--db", "r.db", cwd=tmp_path
    )
    _assert_one_line_error(result, "is not a usable GGUF file", "impossible")


def test_a_gguf_the_scanner_rates_high_is_not_loaded(tmp_path: Path) -> None:
    from allegiance.artifacts import testcorpus as tc

    overlap = tc.gguf_file({"general.name": "x"}, tensors=[("a", [8], 0), ("b", [8], 16)])
    (tmp_path / "o.gguf").write_bytes(overlap)
    result = cli("run", "smoke", "-t", f"local:{tmp_path / 'o.gguf'}", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "found high problems", "gguf.overlap", "allegiance scan")


def test_a_gguf_whose_template_has_triggers_is_loaded_with_a_warning(tmp_path: Path) -> None:
    """A chat template's date or keyword branch is what an audit measures (stock Llama 3.x
    templates test the date): warned about, not refused; llama.cpp then opens the file (this
    one has no real weights, so it fails there)."""
    from allegiance.artifacts import testcorpus as tc

    data = tc.gguf_file(
        {"general.basename": "Qwen2.5", "tokenizer.chat_template": tc.TRIGGER_TEMPLATE}
    )
    (tmp_path / "t.gguf").write_bytes(data)
    model = f"local:{tmp_path / 't.gguf'}"
    result = cli("run", "smoke", "-t", model, "--judge", model, "--db", "r.db", cwd=tmp_path)
    # once, though the judge check, the run and the judging each build the target
    assert result.stderr.count("warning:") == 1 and "template.content-trigger" in result.stderr
    assert "high-severity problems" not in result.stderr
    assert "could not load" in result.stderr and result.returncode == 2


def test_a_folder_as_a_local_model_is_named_as_a_folder(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    result = cli(
        "run", "smoke", "-t", f"local:{tmp_path / 'weights'}", "--db", "r.db", cwd=tmp_path
    )
    _assert_one_line_error(result, "is a folder; give the .gguf file in it")


def test_unknown_suite(tmp_path: Path) -> None:
    result = cli("run", "no-such-suite", "-t", "local:qwen", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "no suite named 'no-such-suite'")


def test_broken_suite_file(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("name: s\nprobes:\n  - id: a\n    tags: {x: 1}\n")
    result = cli("run", "s.yaml", "-t", "local:qwen", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "probes[0]", "needs 'prompt'")


def test_report_of_unknown_run(tmp_path: Path) -> None:
    result = cli("report", "nope", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "no run 'nope'")


def test_database_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / "r.db").write_bytes(b"this is not a database" * 100)
    result = cli("runs", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "cannot open results database")


def test_judge_bad_records(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"prompt": "hi"}\n')
    result = cli("judge", "--detector", "refusal", "in.jsonl", cwd=tmp_path)
    _assert_one_line_error(result, "needs a string field 'response'")
    (tmp_path / "in.jsonl").write_text('{"prompt": 3, "response": "ok"}\n')
    result = cli("judge", "--detector", "refusal", "in.jsonl", cwd=tmp_path)
    _assert_one_line_error(result, "'prompt' must be a string")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--nope"), "No such option '--nope'"),
        (("judge",), "Missing argument 'FILE'"),
        (("frob",), "No such command 'frob'"),
        (("report", "--format", "xx"), "Invalid value for '--format'"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("allegiance: error: ") and needle in lines[0]
    assert "--help" in lines[0]


def test_allegiance_alone_prints_its_help(tmp_path: Path) -> None:
    result = cli(cwd=tmp_path)
    assert result.returncode == 0
    assert "Usage:" in result.stdout and "Commands:" in result.stdout
    assert "error" not in result.stderr


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("openai:m@HTTP://alice:s3cretPW@127.0.0.1:9/v1", "must not carry credentials"),
        ("openai:m@ftp://alice:s3cretPW@127.0.0.1:9/v1", "write OpenAI-compatible targets"),
        ("zz://alice:s3cretPW@host", "unknown target"),
    ],
)
def test_a_password_in_a_target_spec_is_never_printed(
    tmp_path: Path, spec: str, needle: str
) -> None:
    """Found by a review on 2026-11-28: an upper-case scheme failed the spec pattern, and
    the error quoted the whole spec, password included."""
    result = cli("run", "smoke", "-t", spec, "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, needle)
    assert "s3cretPW" not in result.stderr + result.stdout


def test_a_judge_server_that_is_not_there_is_found_before_the_run(tmp_path: Path) -> None:
    """A user review (2026-11-28): every question was asked, then the judge failed with a
    'target … cannot reach' line that did not say it was the judge."""
    from tests.support.chat_server import ChatServer

    with ChatServer(reply="Sure.") as server:
        result = cli("run", "smoke", "-t", f"openai:m@{server.base_url}", "--judge",
                     "openai:j@http://127.0.0.1:1/v1", "--db", "r.db", cwd=tmp_path)  # fmt: skip
        asked = sum(server.counts.values())
    _assert_one_line_error(result, "judge: target", "cannot reach http://127.0.0.1:1/v1")
    assert asked == 0
    assert not (tmp_path / "r.db").exists()


def test_a_probe_pattern_may_carry_the_suite_name_as_show_prints_it(tmp_path: Path) -> None:
    """A user review (2026-11-28): `--probe 'censorship/tiananmen*'` (the id as `show`
    prints it) selected nothing, and the error did not say what was tried."""
    from allegiance.suites.loader import load_suite

    suite = load_suite("censorship")
    assert (
        suite.select(["censorship/tiananmen-1989.*"]).probes
        == suite.select(["tiananmen-1989.*"]).probes
        != ()
    )
    result = cli("run", "smoke", "-t", "openai:m@http://127.0.0.1:1/v1", "--probe",
                 "nothing-like-this*", "--db", "r.db", cwd=tmp_path)  # fmt: skip
    _assert_one_line_error(result, "no probes selected by 'nothing-like-this*'", "suites NAME")


def test_an_api_key_in_the_config_says_to_use_api_key_env(tmp_path: Path) -> None:
    """A user review (2026-11-28): `api_key:` in a target failed with pydantic's
    'Unexpected keyword argument'. The value is never echoed."""
    (tmp_path / "allegiance.yaml").write_text(
        "targets:\n  gpt:\n    model: openai:gpt-4o@http://127.0.0.1:9/v1\n"
        "    api_key: sk-do-not-print\n"
    )
    result = cli("run", "smoke", "-t", "gpt", "--db", "r.db", cwd=tmp_path)
    _assert_one_line_error(result, "targets.gpt.api_key: not a setting", "api_key_env")
    assert "sk-do-not-print" not in result.stderr + result.stdout


def test_a_judge_whose_every_reply_is_unreadable_fails_the_run(tmp_path: Path) -> None:
    """A user review (2026-11-28): a judge that parsed none of its replies exited 0, and the
    report then had empty judge tables."""
    from tests.support.chat_server import ChatServer

    with ChatServer(reply="Sure.") as target, ChatServer(reply="lorem ipsum") as judge:
        result = cli("run", "smoke", "-t", f"openai:m@{target.base_url}", "--judge",
                     f"openai:j@{judge.base_url}", "--db", "r.db", "--no-report",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "gave no usable label (0 of" in result.stderr and "the rest unreadable" in result.stderr
