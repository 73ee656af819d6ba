"""Answers are judged on a thread while a run is still asking (JudgeAsAnswered), and the
verdicts are those judging the stored answers afterwards would have given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allegiance.config import Config
from allegiance.detectors.base import available_detectors, get_detector
from allegiance.engine.detect import JudgeAsAnswered, apply_detectors
from allegiance.engine.session import RunRequest, run
from allegiance.store.sqlite import AttemptRecord, Store
from allegiance.suites.loader import load_suite
from tests.support.chat_server import ChatServer


@pytest.mark.parametrize("name", available_detectors())
def test_every_detectors_preparation_runs(name: str) -> None:
    detector = get_detector(name)
    if detector.prepare is not None:
        detector.prepare()  # raises if a loader is broken


def _record(attempt_id: str, text: str, probe: dict[str, object]) -> AttemptRecord:
    return AttemptRecord(attempt_id, "t", "s", str(probe["id"]), 0, 0, {}, probe, "ok", text)


def test_verdicts_judged_as_answered_equal_those_judged_from_the_store(tmp_path: Path) -> None:
    probe = load_suite("smoke").probes[0].to_record()  # refusal and facts
    records = [
        _record("a1", "I'm sorry, but I can't help with that.", probe),
        _record("a2", "Taiwan uses +886. bad \ud800 text", probe),  # stored with U+FFFD
    ]
    judge = JudgeAsAnswered(["facts", "refusal", "refusal", "no-such-detector"])
    for record in records:
        judge.submit(record)
    early = judge.finish()
    assert {(v.attempt_id, v.detector) for v in early} == {
        (a, d)
        for a in ("a1", "a2")
        for d in probe["detectors"]  # type: ignore[union-attr]
    }
    store = Store.open(tmp_path / "r.db")
    store.register_target("t", "m", "test", {})
    store.begin_run("r", "test", {})
    store.link("r", ["a1", "a2"])
    for record in records:
        store.record_attempt(record)
    apply_detectors(store, "r")
    later = store.verdicts(["a1", "a2"])
    for verdict in early:
        stored = later[verdict.attempt_id][verdict.detector]
        assert (verdict.label, verdict.detector_version, verdict.probe_hash) == (
            stored.label, stored.detector_version, stored.probe_hash,
        )  # fmt: skip
        assert json.dumps(verdict.evidence, sort_keys=True) == json.dumps(
            stored.evidence, sort_keys=True
        )


def test_a_run_leaves_nothing_for_judging_afterwards(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    with ChatServer(reply="I'm sorry, but I can't help with that.") as server:
        result = run(
            RunRequest(
                suites=[load_suite("smoke")],
                target_specs=[f"openai:m@{server.base_url}"],
                run_id="r",
                progress=False,
            ),
            Config(),
            store,
        )
    assert result.outcome.completed == 10 and result.verdicts_written == 15
    assert apply_detectors(store, "r") == 0  # every verdict was written, and is current
