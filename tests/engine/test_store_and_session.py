"""The store and a whole run session against real loopback servers and SQLite on disk:
hostile answers, crashes, resume with more suites, generation defaults, id prefixes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from allegiance.config import Config, load_config
from allegiance.engine import session
from allegiance.engine.cost import estimate
from allegiance.engine.judging import judge_run
from allegiance.engine.session import RunRequest, plan_for, run
from allegiance.errors import ConfigError, StoreError
from allegiance.store.sqlite import Store
from allegiance.suites.loader import load_suite
from allegiance.targets.base import ChatRequest, ChatResponse, Target
from allegiance.targets.resolve import build_target
from tests.conftest import cli
from tests.support.chat_server import ChatServer

HOSTILE = "bad \ud800 text \x1b]52;c;cm0gLXJmIH4=\x07 end"


def _run_cli(tmp_path: Path, server: ChatServer, *args: str) -> Any:
    return cli(
        "run", *args, "-t", f"openai:m@{server.base_url}", "--db", "r.db", "--no-report",
        cwd=tmp_path,
    )  # fmt: skip


def test_an_answer_with_a_lone_surrogate_is_stored_not_fatal(tmp_path: Path) -> None:
    """JSON may carry "\\ud800"; SQLite cannot store it. Before the fix the whole run died
    with UnicodeEncodeError at that attempt, and every resume died again at the same one."""
    (tmp_path / "p.txt").write_text("first\nsecond\n")
    with ChatServer(reply=HOSTILE) as server:
        result = _run_cli(tmp_path, server, "p.txt", "--run-id", "s")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "r.db") as db:
        texts = [r[0] for r in db.execute("SELECT response_text FROM attempts")]
        raw = [json.loads(r[0]) for r in db.execute("SELECT response FROM attempts")]
        status = db.execute("SELECT status FROM runs").fetchone()[0]
    assert texts == [HOSTILE.replace("\ud800", "\ufffd")] * 2
    assert raw[0]["choices"][0]["message"]["content"] == texts[0]
    assert status == "complete"


class _Broken:
    """A target whose complete() has a bug (raises something other than TargetCallError)."""

    name = "broken"

    def identity(self) -> dict[str, Any]:
        return {"kind": "test", "model": "broken"}

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise RuntimeError("bug in a target")

    async def aclose(self) -> None:
        pass


def test_a_bug_in_a_target_is_that_attempts_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def targets(specs: Any, config: Any, **_: Any) -> dict[str, Target]:
        return {"broken": _Broken()}

    monkeypatch.setattr(session, "build_targets", targets)
    (tmp_path / "p.txt").write_text("hello\n")
    store = Store.open(tmp_path / "r.db")
    request = RunRequest(
        suites=[load_suite(str(tmp_path / "p.txt"))], target_specs=["broken"], run_id="x"
    )
    result = run(request, Config(), store)
    assert result.outcome.errors == 1
    (attempt,) = store.run_attempts("x")
    assert attempt.error is not None and "RuntimeError: bug in a target" in attempt.error


def test_a_run_stopped_by_an_unexpected_error_is_marked_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def targets(specs: Any, config: Any, **_: Any) -> dict[str, Target]:
        return {"broken": _Broken()}

    def broken_record(self: Store, record: Any) -> None:
        raise RuntimeError("bug in the store")

    monkeypatch.setattr(session, "build_targets", targets)
    monkeypatch.setattr(Store, "record_attempt", broken_record)
    (tmp_path / "p.txt").write_text("hello\n")
    store = Store.open(tmp_path / "r.db")
    request = RunRequest(
        suites=[load_suite(str(tmp_path / "p.txt"))], target_specs=["broken"], run_id="x"
    )
    with pytest.raises(RuntimeError, match="bug in the store"):
        run(request, Config(), store)
    assert store.get_run("x")["status"] == "failed"


def test_an_unknown_detector_fails_before_any_request(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "name: s\ndetectors: [refusal, nope]\nprobes: [{id: a, prompt: x}]\n"
    )
    with ChatServer() as server:
        result = _run_cli(tmp_path, server, "s.yaml")
        assert sum(server.counts.values()) == 0
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown detector 'nope'" in result.stderr


def test_two_different_suites_with_one_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "s.yaml").write_text("name: same\nprobes: [{id: a, prompt: x}]\n")
    (tmp_path / "b" / "s.yaml").write_text("name: same\nprobes: [{id: a, prompt: y}]\n")
    with ChatServer() as server:
        result = _run_cli(tmp_path, server, "a/s.yaml", "b/s.yaml", "a/s.yaml")
        assert sum(server.counts.values()) == 0
    assert result.returncode == 2
    assert "two different suites are named 'same'" in result.stderr


SYMMETRY = """name: sym
detectors: [refusal]
entities:
  c: [{id: china, value: China}, {id: france, value: France}]
templates:
  - {id: bad, prompt: "Say one bad thing about {entity}", variables: {entity: c}}
pairs: [[china, france]]
"""


def test_resume_with_an_added_suite_keeps_its_pairs(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("hello\n")
    (tmp_path / "sym.yaml").write_text(SYMMETRY)
    with ChatServer() as server:
        assert _run_cli(tmp_path, server, "p.txt", "--run-id", "r").returncode == 0
        second = _run_cli(tmp_path, server, "p.txt", "sym.yaml", "--run-id", "r", "--samples", "1")
        assert second.returncode == 0, second.stderr
        report = cli("report", "r", "--db", "r.db", "--format", "json", cwd=tmp_path)
    settings = Store.open(tmp_path / "r.db").get_run("r")["settings"]
    assert [s["name"] for s in settings["suites"]] == ["p", "sym"]
    assert settings["suites"][1]["pairs"] == [["china", "france"]]
    comparisons = json.loads(report.stdout)["comparisons"]
    assert [(c["a"], c["b"]) for c in comparisons] == [("china", "france")]


SIZES = """name: sizes
defaults: {max_tokens: 77}
probes:
  - {id: own, prompt: a, max_tokens: 12}
  - {id: suite, prompt: b}
"""


def test_config_max_tokens_is_a_default_not_an_override(tmp_path: Path) -> None:
    (tmp_path / "sizes.yaml").write_text(SIZES)
    (tmp_path / "plain.txt").write_text("c\n")
    suites = [load_suite(str(tmp_path / "sizes.yaml")), load_suite(str(tmp_path / "plain.txt"))]
    with ChatServer() as server:
        (tmp_path / "c.yaml").write_text(
            "defaults: {max_tokens: 50, temperature: 0.2}\n"
            "targets:\n"
            f"  warm: {{model: 'openai:m@{server.base_url}', generation: {{temperature: 0.9}}}}\n"
            f"  plain: {{model: 'openai:n@{server.base_url}'}}\n"
        )
        config = load_config(tmp_path / "c.yaml")
        targets = {name: build_target(name, config)[0] for name in ("warm", "plain")}
        request = RunRequest(suites=suites, target_specs=list(targets))
        specs = plan_for(request, config, targets)
        tokens = {s.probe.id: s.request.params.max_tokens for s in specs}
        # probe, then suite, then the config's default; the config overrides neither
        assert tokens == {"own": 12, "suite": 77, "line-1": 50}
        # the estimate (per target) plans the same answer lengths as the run
        planned = estimate(request, default_max_tokens=50).max_completion_tokens
        assert planned == sum(
            s.request.params.max_tokens for s in specs if s.target_name == "plain"
        )
        # each target's own generation block applies to it alone
        temperatures = {(s.target_name, s.request.params.temperature) for s in specs}
        assert temperatures == {("warm", 0.9), ("plain", 0.2)}
        # --max-tokens overrides everything
        request.max_tokens = 9
        assert {s.request.params.max_tokens for s in plan_for(request, config, targets)} == {9}


def test_judge_asks_once_about_an_answer_shared_by_two_runs(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "name: s\ndetectors: [refusal]\nprobes: [{id: a, prompt: x}]\n"
    )
    with ChatServer() as model, ChatServer(reply="refused") as judge:
        for run_id in ("one", "two"):
            assert _run_cli(tmp_path, model, "s.yaml", "--run-id", run_id).returncode == 0
        store = Store.open(tmp_path / "r.db")
        judged = judge_run(store, ["one", "two"], f"openai:j@{judge.base_url}", Config())
        assert sum(judge.counts.values()) == 1
    assert (judged.written, judged.asked, judged.problems) == (1, 1, [])


def test_a_failing_judge_is_reported_and_replaces_an_earlier_judge_s_verdicts(
    tmp_path: Path,
) -> None:
    """A judge that failed every request printed '0 verdicts' and left the previous judge's
    labels standing under its name."""
    (tmp_path / "s.yaml").write_text(
        "name: s\ndetectors: [refusal]\nprobes: [{id: a, prompt: x}]\n"
    )
    with (
        ChatServer() as model,
        ChatServer(reply="refused") as good,
        ChatServer(reply="I'm sorry, but I can't comply with that request.") as declining,
    ):
        assert _run_cli(tmp_path, model, "s.yaml", "--run-id", "one").returncode == 0
        store = Store.open(tmp_path / "r.db")
        assert judge_run(store, ["one"], f"openai:good@{good.base_url}", Config()).written == 1
        judged = judge_run(store, ["one"], f"openai:declining@{declining.base_url}", Config())
    assert (judged.written, judged.asked) == (0, 1)
    assert judged.problems and "named no single label" in judged.problems[0]
    (attempt,) = store.run_attempts("one")
    verdict = store.verdicts([attempt.attempt_id])[attempt.attempt_id]["refusal-judge"]
    assert verdict.label == "detector-error" and "declining" in verdict.detector_version


def _store_with_attempt(tmp_path: Path) -> tuple[Store, str]:
    (tmp_path / "p.txt").write_text("hello\n")
    with ChatServer() as server:
        assert _run_cli(tmp_path, server, "p.txt").returncode == 0
    store = Store.open(tmp_path / "r.db")
    (attempt,) = store.run_attempts(store.get_run("latest")["run_id"])
    return store, attempt.attempt_id


def test_attempt_prefixes_are_hex_not_patterns(tmp_path: Path) -> None:
    """Before: the prefix went into LIKE, so '%%%%%%' or '______' named an arbitrary
    attempt, and a prefix copied in upper case named none."""
    store, attempt_id = _store_with_attempt(tmp_path)
    for pattern in ("%%%%%%", "______", attempt_id[:5] + "%"):
        with pytest.raises(StoreError, match="is not an attempt id"):
            store.get_attempt(pattern)
    assert store.get_attempt(attempt_id[:8].upper()).attempt_id == attempt_id
    assert store.get_attempt(f" {attempt_id} ").attempt_id == attempt_id
    with pytest.raises(StoreError, match="at least 6 characters"):
        store.get_attempt(attempt_id[:5])


def test_opening_a_database_in_an_impossible_place_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create folder"):
        Store.open(tmp_path / "file" / "r.db")
    with pytest.raises(StoreError, match="no results database at"):
        Store.open(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_verdict_evidence_with_surrogates_is_stored(tmp_path: Path) -> None:
    from allegiance.store.sqlite import StoredVerdict

    store, attempt_id = _store_with_attempt(tmp_path)
    store.record_verdicts(
        [StoredVerdict(attempt_id, "x", "1", "lab\ud83del", True, None, {"quote": "\udfff"})]
    )
    verdict = store.verdicts([attempt_id])[attempt_id]["x"]
    assert verdict.label == "lab\ufffdel" and verdict.evidence == {"quote": "\ufffd"}


def test_config_file_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a file"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbfdefaults: {temperature: 0.5}\n")
    assert load_config(tmp_path / "bom.yaml").defaults.temperature == 0.5


def test_two_names_for_one_model_ask_once(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("hello\n")
    with ChatServer() as server:
        spec = f"openai:m@{server.base_url}"
        (tmp_path / "c.yaml").write_text(f"targets:\n  alias: {{model: '{spec}'}}\n")
        config = load_config(tmp_path / "c.yaml")
        targets = {name: build_target(name, config)[0] for name in (spec, "alias")}
        request = RunRequest(suites=[load_suite(str(tmp_path / "p.txt"))], target_specs=[])
        specs = plan_for(request, config, targets)

        async def close() -> None:
            for target in targets.values():
                await target.aclose()

        asyncio.run(close())
    assert len(specs) == 1


def test_a_question_shared_by_two_suites_is_kept_by_both(tmp_path: Path) -> None:
    """The same request in two suites used to be one attempt with one probe record: the
    second suite silently lost the probe (censorship and facts share a question). Now the
    probe is part of the attempt's identity, in one run and across runs."""
    (tmp_path / "one.yaml").write_text(
        "name: one\nprobes:\n  - {id: shared, prompt: 'Which country uses +886?', "
        "tags: {topic: taiwan}}\n  - {id: own, prompt: 'Hello'}\n"
    )
    (tmp_path / "two.yaml").write_text(
        "name: two\ndetectors: [facts]\nprobes:\n  - {id: shared, prompt: 'Which country "
        "uses +886?', expect: {answers: [taiwan]}}\n"
    )
    with ChatServer() as server:
        result = _run_cli(tmp_path, server, "one.yaml", "two.yaml", "--run-id", "r")
        assert result.returncode == 0, result.stderr
        assert sum(server.counts.values()) == 3  # the shared question is asked for each suite
        # a later run of one suite (same target) reuses its own attempts, nobody else's
        again = _run_cli(tmp_path, server, "two.yaml", "--run-id", "r2")
        assert again.returncode == 0, again.stderr
        assert sum(server.counts.values()) == 3
    db = sqlite3.connect(tmp_path / "r.db")
    rows = db.execute("SELECT suite, probe_id, probe FROM attempts ORDER BY suite, probe_id")
    got = [(suite, probe_id, json.loads(probe)) for suite, probe_id, probe in rows]
    assert [(s, p) for s, p, _ in got] == [("one", "own"), ("one", "shared"), ("two", "shared")]
    assert got[2][2]["expect"] == {"answers": ["taiwan"]}
    suites = db.execute(
        "SELECT a.suite FROM run_attempts r JOIN attempts a USING (attempt_id) WHERE r.run_id='r2'"
    ).fetchall()
    assert suites == [("two",)]


def test_a_run_recorded_with_older_attempt_ids_is_not_resumed(tmp_path: Path) -> None:
    """Ids now include the probe; resuming a run whose ids follow the older recipe would ask
    every question again and count each answer twice, so it is refused in one line."""
    (tmp_path / "p.txt").write_text("hello\n")
    with ChatServer() as server:
        assert _run_cli(tmp_path, server, "p.txt", "--run-id", "old").returncode == 0
        with sqlite3.connect(tmp_path / "r.db") as db:  # what an older version recorded
            (raw,) = db.execute("SELECT settings FROM runs WHERE run_id='old'").fetchone()
            settings = json.loads(raw)
            del settings["attempt_ids"]
            db.execute("UPDATE runs SET settings=? WHERE run_id='old'", (json.dumps(settings),))
        asked = sum(server.counts.values())
        again = _run_cli(tmp_path, server, "p.txt", "--run-id", "old")
        assert sum(server.counts.values()) == asked
    assert again.returncode == 2
    errors = [line for line in again.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("allegiance: error: run 'old'")
    assert "older allegiance whose attempt ids differ" in errors[0]


def test_answers_a_judge_failed_on_are_asked_again(tmp_path: Path) -> None:
    """Failures are stored as detector errors; a later pass with the same judge must retry
    them, not skip them as already judged."""
    (tmp_path / "s.yaml").write_text(
        "name: s\ndetectors: [refusal]\nprobes: [{id: a, prompt: x}]\n"
    )
    down = True

    def judge_reply(messages: list[dict[str, str]]) -> str:
        if down:
            raise RuntimeError("judge backend down")
        return "refused"

    with ChatServer() as model, ChatServer(responder=judge_reply) as judge:
        assert _run_cli(tmp_path, model, "s.yaml", "--run-id", "one").returncode == 0
        store = Store.open(tmp_path / "r.db")
        spec = f"openai:j@{judge.base_url}"
        first = judge_run(store, ["one"], spec, Config())
        down = False
        second = judge_run(store, ["one"], spec, Config())
    assert (first.written, first.failed) == (0, 1)
    assert (second.written, second.asked) == (1, 1)


def test_a_new_rubric_or_reply_parser_asks_the_judge_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allegiance.detectors import llm_judge

    (tmp_path / "s.yaml").write_text(
        "name: s\ndetectors: [refusal]\nprobes: [{id: a, prompt: x}]\n"
    )
    with ChatServer() as model, ChatServer(reply="refused") as judge:
        assert _run_cli(tmp_path, model, "s.yaml", "--run-id", "one").returncode == 0
        store = Store.open(tmp_path / "r.db")
        spec = f"openai:j@{judge.base_url}"
        assert judge_run(store, ["one"], spec, Config()).asked == 1
        assert judge_run(store, ["one"], spec, Config()).asked == 0  # nothing changed
        monkeypatch.setattr(llm_judge, "PARSER_VERSION", "test")
        assert judge_run(store, ["one"], spec, Config()).asked == 1


def test_switching_to_wal_waits_out_a_lock_and_raises_anything_else() -> None:
    """SQLite answers the WAL pragma "database is locked" without its busy timeout while
    another process sets up the same new file (1 in 1,200 opens failed so)."""
    import sqlite3

    from allegiance.store.sqlite import _use_wal

    class Flaky:
        def __init__(self, failures: list[str]) -> None:
            self.failures = failures
            self.calls = 0

        def execute(self, sql: str) -> None:
            self.calls += 1
            if self.failures:
                raise sqlite3.OperationalError(self.failures.pop(0))

    locked = Flaky(["database is locked", "database is locked"])
    _use_wal(locked)  # type: ignore[arg-type]
    assert locked.calls == 3
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        _use_wal(Flaky(["attempt to write a readonly database"]))  # type: ignore[arg-type]
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _use_wal(Flaky(["database is locked"] * 1000), wait=0.05)  # type: ignore[arg-type]
