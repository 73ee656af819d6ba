"""The runner against a real loopback server that injects faults."""

from __future__ import annotations

import asyncio
from pathlib import Path

from allegiance.config import Config
from allegiance.engine.plan import PlannedTarget, plan_attempts
from allegiance.engine.runner import RunSettings, execute
from allegiance.store.sqlite import Store
from allegiance.suites.loader import load_suite
from allegiance.targets.resolve import build_target, target_id
from tests.support.chat_server import ChatServer

FAULTY = [
    "plain question one",
    "rate limited [429x2]",
    "server error [500x1]",
    "unavailable [503x2]",
    "truncated body [truncx1]",
    "dropped connection [dropx1]",
    "hangs once [hangx1]",
    "always broken [500x99]",
    "unauthorised [401]",
    "plain question two",
]


def _run(
    tmp_path: Path,
    server: ChatServer,
    prompts: list[str],
    *,
    retries: int = 3,
    run_id: str = "r1",
    timeout: float = 1.0,
    store: Store | None = None,
) -> tuple[Store, object]:
    suite_file = tmp_path / "faults.txt"
    suite_file.write_text("\n".join(prompts) + "\n")
    suite = load_suite(str(suite_file))
    target, _ = build_target(f"openai:test-model@{server.base_url}", Config(), timeout=timeout)
    identity = target.identity()
    tid = target_id(identity)
    specs = plan_attempts([suite], [PlannedTarget(target.name, tid)], max_tokens=16)
    store = store or Store.open(tmp_path / "runs.db")
    store.register_target(tid, target.name, "openai", identity)
    store.begin_run(run_id, "test", {})
    settings = RunSettings(
        concurrency=4, retries=retries, backoff_base=0.01, backoff_max=0.05, progress=False
    )

    async def go() -> object:
        try:
            return await execute(specs, {target.name: target}, store, run_id, settings)
        finally:
            await target.aclose()

    return store, asyncio.run(go())


def test_every_fault_ends_recorded_and_nothing_is_duplicated(
    tmp_path: Path, chat_server: ChatServer
) -> None:
    store, outcome = _run(tmp_path, chat_server, FAULTY)
    attempts = {a.probe_id: a for a in store.run_attempts("r1")}
    assert len(attempts) == len(FAULTY)
    by_prompt = {a.request["messages"][-1]["content"]: a for a in attempts.values()}
    # transient faults were retried until they succeeded
    for prompt in FAULTY[:7] + FAULTY[9:]:
        assert by_prompt[prompt].status == "ok", (prompt, by_prompt[prompt].error)
        assert by_prompt[prompt].response_text == f"echo: {prompt}"
        assert by_prompt[prompt].provider == "LoopbackProvider"
    assert by_prompt["rate limited [429x2]"].tries == 3
    assert chat_server.counts["rate limited [429x2]"] == 3
    # retries ran out: recorded as a clear error after retries+1 tries
    broken = by_prompt["always broken [500x99]"]
    assert (
        broken.status == "error"
        and "HTTP 500" in (broken.error or "")
        and "after 4 tries" in (broken.error or "")
    )
    assert chat_server.counts["always broken [500x99]"] == 4
    # a permanent error is not retried
    unauthorised = by_prompt["unauthorised [401]"]
    assert unauthorised.status == "error" and "not authorised" in (unauthorised.error or "")
    assert chat_server.counts["unauthorised [401]"] == 1
    assert outcome.errors == 2 and outcome.completed == 8  # type: ignore[attr-defined]


def test_rerun_sends_only_what_is_missing(tmp_path: Path, chat_server: ChatServer) -> None:
    store, _ = _run(tmp_path, chat_server, FAULTY)
    before = dict(chat_server.counts)
    store, outcome = _run(tmp_path, chat_server, FAULTY, store=store)
    sent_again = {p for p in FAULTY if chat_server.counts[p] != before.get(p, 0)}
    # only the two failed attempts are tried again; successes come from the store
    assert sent_again == {"always broken [500x99]", "unauthorised [401]"}
    assert outcome.cached == 8  # type: ignore[attr-defined]
    assert store.run_attempt_count("r1") == len(FAULTY)


def test_cache_is_shared_between_runs(tmp_path: Path, chat_server: ChatServer) -> None:
    prompts = ["alpha", "beta", "gamma"]
    store, _ = _run(tmp_path, chat_server, prompts, run_id="first")
    store, outcome = _run(tmp_path, chat_server, prompts, run_id="second", store=store)
    assert outcome.cached == 3  # type: ignore[attr-defined]
    assert all(chat_server.counts[p] == 1 for p in prompts)
    assert store.run_attempt_count("second") == 3


def test_api_key_is_sent_but_never_stored(
    tmp_path: Path, chat_server: ChatServer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    secret = "sk-test-SECRET-0123456789"
    monkeypatch.setenv("TEST_API_KEY", secret)
    suite_file = tmp_path / "one.txt"
    suite_file.write_text("hello\n")
    target, _ = build_target(
        f"openai:test-model@{chat_server.base_url}", Config(), api_key_env="TEST_API_KEY"
    )
    identity = target.identity()
    tid = target_id(identity)
    specs = plan_attempts([load_suite(str(suite_file))], [PlannedTarget(target.name, tid)])
    store = Store.open(tmp_path / "k.db")
    store.register_target(tid, target.name, "openai", identity)
    store.begin_run("k", "test", {})

    async def go() -> None:
        await execute(specs, {target.name: target}, store, "k", RunSettings(progress=False))
        await target.aclose()

    asyncio.run(go())
    store.close()
    assert chat_server.seen_auth == [f"Bearer {secret}"]
    assert secret.encode() not in (tmp_path / "k.db").read_bytes()
    wal = tmp_path / "k.db-wal"
    assert not wal.exists() or secret.encode() not in wal.read_bytes()


def test_a_body_no_parser_expected_is_that_attempts_error(tmp_path: Path) -> None:
    """Found by a review on 2026-11-28: one 200 body nested 100,000 deep (RecursionError) or
    with a 5,000-digit number (ValueError) crashed the whole run, and every resume met it
    again. Each is now its attempt's recorded error; NaN in a body is stored as valid JSON."""
    import json
    import sqlite3

    from tests.targets.raw_server import RawServer, Reply, completion

    def respond(request: dict) -> Reply:
        prompt = request["messages"][-1]["content"]
        if "deep" in prompt:
            return Reply(200, b"[" * 100_000 + b"]" * 100_000)
        if "bignum" in prompt:
            return Reply(200, b'{"choices": [], "usage": {"prompt_tokens": 1' + b"1" * 5000 + b"}}")
        if "nan" in prompt:
            return Reply(
                200, completion({"content": "Paris."}, usage={"prompt_tokens": float("nan")})
            )
        return Reply(200, completion({"content": "Paris."}))

    with RawServer(respond) as server:
        store, outcome = _run(tmp_path, server, ["deep", "bignum", "nan", "fine"], retries=0)  # type: ignore[arg-type]
    assert (outcome.completed, outcome.errors) == (2, 2)  # type: ignore[attr-defined]
    store.close()
    with sqlite3.connect(tmp_path / "runs.db") as db:
        rows = db.execute(
            "SELECT status, error, response, json_valid(response) FROM attempts"
        ).fetchall()
    errors = [error for status, error, _, _ in rows if status == "error"]
    assert all("unreadable response body" in e for e in errors), errors
    assert all(valid for status, _, _, valid in rows if status == "ok")
    (nan_row,) = [json.loads(r) for s, _, r, _ in rows if s == "ok" and "NaN" in r]
    assert nan_row["usage"]["prompt_tokens"] == "NaN"


def test_an_unexpected_exception_in_a_target_is_recorded_not_raised() -> None:
    from allegiance.engine.runner import call_with_retries
    from allegiance.targets.base import ChatRequest, GenerationParams

    class Broken:
        name = "broken"

        async def complete(self, request: ChatRequest) -> None:
            raise RuntimeError("runtime fell over sk-secret-123456")

        def redact(self, text: str) -> str:
            return text.replace("sk-secret-123456", "[redacted]")

    class Spec:
        request = ChatRequest(
            messages=[{"role": "user", "content": "hi"}], params=GenerationParams()
        )

    response, error, tries, _ = asyncio.run(
        call_with_retries(Broken(), Spec(), RunSettings(retries=3, progress=False))  # type: ignore[arg-type]
    )
    assert response is None and tries == 1
    assert error is not None and "RuntimeError: runtime fell over [redacted]" in error
