"""`allegiance scan`: exit codes, table, JSON and SARIF output."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from allegiance.artifacts import testcorpus as tc
from allegiance.cli.scan import command


def run(*args: str):
    return CliRunner().invoke(command, list(args))


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_exit_codes(tmp_path):
    clean = write(tmp_path, "clean.pt", tc.torch_zip(tc.benign_state_dict_pickle()))
    evil = write(tmp_path, "evil.pkl", tc.posix_system())
    broken = write(tmp_path, "broken.pkl", tc.posix_system()[:10])
    unknown = write(tmp_path, "u.pkl", tc.wrap(tc.call(tc.glob("mylib", "Thing"), b"")))
    assert run(clean).exit_code == 0
    assert run(evil).exit_code == 1
    assert run(broken).exit_code == 2
    assert run(clean, broken).exit_code == 2
    assert run(evil, broken).exit_code == 1  # a finding wins over a scan error
    assert run(unknown).exit_code == 1
    assert run("--fail-on", "high", unknown).exit_code == 0
    assert run(str(tmp_path / "missing.bin")).exit_code == 2


def test_nothing_to_scan_is_not_clean(tmp_path):
    """An empty folder, a folder of non-model files or a text file: nothing was checked, and
    exit 0 ("clean") would read as a pass."""
    empty = tmp_path / "empty"
    empty.mkdir()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.md").write_text("hello")
    text = write(tmp_path, "hostname", b"box\n")
    for path in (str(empty), str(notes), text):
        result = run(path)
        assert result.exit_code == 2, (path, result.output)
        assert "NOTHING SCANNED" in result.output
    clean = write(tmp_path, "clean.pt", tc.torch_zip(tc.benign_state_dict_pickle()))
    assert run(clean, text).exit_code == 0  # one model file checked, the other file skipped
    beside = run("--format", "json", clean, str(empty))  # the empty folder gets its own row
    rows = {f["path"]: f for f in json.loads(beside.output)["files"]}
    assert beside.exit_code == 0 and rows[str(empty)]["reason"] == "folder with no model file"
    sarif = json.loads(run("--format", "sarif", str(empty)).output)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "nothing scanned" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_table_output(tmp_path):
    evil = write(tmp_path, "evil.pkl", tc.posix_system())
    broken = write(tmp_path, "broken.pkl", b"\x80\x04\x95")
    result = run(evil, broken)
    assert "CRITICAL" in result.output and "os.system" in result.output
    assert "could not scan" in result.output and "truncated" in result.output
    assert result.output.strip().splitlines()[-1].startswith("2 file(s)")


def test_json_output(tmp_path):
    evil = write(tmp_path, "evil.pkl", tc.posix_system())
    data = json.loads(run("--format", "json", evil).output)
    (entry,) = data["files"]
    assert entry["verdict"] == "findings" and len(entry["sha256"]) == 64
    assert entry["findings"][0]["rule"] == "pickle.dangerous-global"
    assert entry["findings"][0]["severity"] == "critical"


def test_sarif_output(tmp_path):
    evil = write(tmp_path, "evil.pkl", tc.posix_system())
    broken = write(tmp_path, "broken.pkl", b"\x80\x04\x95")
    log = json.loads(run("--format", "sarif", evil, broken).output)
    assert log["version"] == "2.1.0"
    (sarif_run,) = log["runs"]
    rule_ids = {r["id"] for r in sarif_run["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in sarif_run["results"]} <= rule_ids
    assert sarif_run["results"][0]["level"] == "error"
    assert sarif_run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"][
        "uri"
    ].endswith("evil.pkl")
    invocation = sarif_run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "broken.pkl" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_output_file(tmp_path):
    evil = write(tmp_path, "evil.pkl", tc.posix_system())
    out = tmp_path / "report.json"
    result = run("--format", "json", "-o", str(out), evil)
    assert result.exit_code == 1
    assert json.loads(out.read_text())["exit_code"] == 1


def test_lazy_group_finds_command():
    from allegiance.cli import cli

    result = CliRunner().invoke(cli, ["scan", "--help"])
    assert result.exit_code == 0 and "Exit codes" in result.output


def test_summary_line_counts_serious_findings_and_names_their_rules():
    from allegiance.artifacts.findings import summary_line

    assert (
        summary_line({"verdict": "clean", "findings": [{"severity": "info", "rule": "x"}]})
        == "clean"
    )
    line = summary_line(
        {
            "verdict": "findings",
            "findings": [
                {"severity": "high", "rule": "template.date-trigger"},
                {"severity": "high", "rule": "template.date-trigger"},
                {"severity": "medium", "rule": "template.url"},
                {"severity": "low", "rule": "gguf.padding"},
            ],
        }
    )
    assert line == "findings: 2 high, 1 medium (template.date-trigger, template.url)"


def test_artifact_text_cannot_drive_the_terminal(tmp_path, monkeypatch):
    """Found by a review on 2026-11-28: file names and metadata went to the terminal raw, so
    a hostile file could clear the CRITICAL lines above it (ESC[2J), write the clipboard
    (OSC 52) or reverse text (U+202E)."""
    name = "evil\x1b[2J\x1b]52;c;aGk=\x07\u202e\x9b31m.pkl"
    write(tmp_path, name, tc.posix_system())
    monkeypatch.chdir(tmp_path)  # a short path, so the table shows the whole name
    path = name
    for fmt in ("table", "json", "sarif"):
        result = run("--format", fmt, path)
        assert result.exit_code == 1, result.output
        for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
            assert raw not in result.output, (fmt, raw)
    table = run(path).output
    assert "\\x1b[2J" in table and "\\u202e" in table
    assert json.loads(run("--format", "json", path).output)["files"][0]["path"] == path
