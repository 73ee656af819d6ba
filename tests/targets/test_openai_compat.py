"""The OpenAI-compatible target against real loopback servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from allegiance.config import load_config
from allegiance.engine.plan import PlannedTarget, plan_attempts
from allegiance.engine.runner import RunSettings, execute
from allegiance.errors import TargetError
from allegiance.store.sqlite import Store
from allegiance.suites.loader import load_suite
from allegiance.targets import openai_compat
from allegiance.targets.base import ChatRequest, ChatResponse, GenerationParams, TargetCallError
from allegiance.targets.openai_compat import OpenAICompatTarget
from allegiance.targets.resolve import build_target, target_id
from tests.support.chat_server import ChatServer
from tests.targets.raw_server import RawServer, Reply, completion

REQUEST = ChatRequest(({"role": "user", "content": "hi"},), GenerationParams())


def _complete(target: OpenAICompatTarget, request: ChatRequest = REQUEST) -> ChatResponse:
    """One request through the real client, its session closed afterwards."""

    async def go() -> ChatResponse:
        try:
            return await target.complete(request)
        finally:
            await target.aclose()

    return asyncio.run(go())


def _ask(base_url: str) -> ChatResponse:
    return _complete(OpenAICompatTarget("t", "m", base_url, timeout=5.0))


def _error(base_url: str) -> TargetCallError:
    with pytest.raises(TargetCallError) as caught:
        _ask(base_url)
    return caught.value


def test_structured_refusal_is_the_answer() -> None:
    """OpenAI returns a refusal with content null and the text in ``refusal``; recording an
    empty answer would hide exactly the behaviour this tool measures."""
    body = completion({"role": "assistant", "content": None, "refusal": "I can't help."})
    with RawServer(lambda _: Reply(200, body)) as server:
        assert _ask(server.base_url).text == "I can't help."
    # content wins when both are present
    body = completion({"role": "assistant", "content": "Sure.", "refusal": None})
    with RawServer(lambda _: Reply(200, body)) as server:
        assert _ask(server.base_url).text == "Sure."


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        ({"code": 400, "message": "context length exceeded"}, False),
        ({"code": "403", "message": "moderation"}, False),
        ({"code": 429, "message": "rate limited upstream"}, True),
        ({"code": 502, "message": "upstream down"}, True),
        ("something broke", True),
    ],
)
def test_errors_inside_a_200_are_classified_by_their_code(error: Any, transient: bool) -> None:
    import json

    with RawServer(lambda _: Reply(200, json.dumps({"error": error}).encode())) as server:
        failure = _error(server.base_url)
    assert failure.transient is transient
    assert "provider error" in str(failure)


@pytest.mark.parametrize("chunks", [0, 8])
def test_a_body_larger_than_the_cap_is_refused(
    monkeypatch: pytest.MonkeyPatch, chunks: int
) -> None:
    """With and without Content-Length: a server cannot make us hold an endless answer."""
    monkeypatch.setattr(openai_compat, "MAX_BODY_BYTES", 4096)
    huge = completion({"role": "assistant", "content": "x" * 20_000})
    with RawServer(lambda _: Reply(200, huge, chunks=chunks)) as server:
        failure = _error(server.base_url)
    assert not failure.transient
    assert "larger than 4,096 bytes" in str(failure)
    # under the cap, a chunked body is read whole
    small = completion({"role": "assistant", "content": "y" * 3000})
    with RawServer(lambda _: Reply(200, small, chunks=5)) as server:
        assert _ask(server.base_url).text == "y" * 3000


def test_config_concurrency_limits_requests_in_flight(tmp_path: Path) -> None:
    """``concurrency:`` in the config is a provider's limit: with --concurrency 8 the
    engine must still never have more than that many requests open to the target."""
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most seen

    def slow(messages: list[dict[str, str]]) -> str:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return "ok"

    (tmp_path / "p.txt").write_text("".join(f"question {i}\n" for i in range(12)))
    with ChatServer(responder=slow) as server:
        (tmp_path / "c.yaml").write_text(
            f"targets:\n  limited:\n    model: openai:m@{server.base_url}\n    concurrency: 2\n"
        )
        config = load_config(tmp_path / "c.yaml")
        target, _ = build_target("limited", config, max_connections=8)
        tid = target_id(target.identity())
        specs = plan_attempts(
            [load_suite(str(tmp_path / "p.txt"))], [PlannedTarget("limited", tid)]
        )
        store = Store.open(tmp_path / "r.db")
        store.register_target(tid, "limited", "openai", target.identity())
        store.begin_run("r", "test", {})

        async def go() -> None:
            try:
                await execute(
                    specs,
                    {"limited": target},
                    store,
                    "r",
                    RunSettings(concurrency=8, progress=False),
                )
            finally:
                await target.aclose()

        asyncio.run(go())
    assert sum(server.counts.values()) == 12
    assert in_flight[1] == 2


def test_invalid_utf8_in_an_answer_is_kept_with_replacement_characters() -> None:
    """A runtime that stops mid-character at max_tokens sends broken UTF-8. Before: the
    body was "unreadable", retried, and the answer finally recorded as an error."""
    body = completion({"role": "assistant", "content": "PLACEHOLDER"})
    body = body.replace(b"PLACEHOLDER", "中文".encode() + b"\xe6\x96")
    with RawServer(lambda _: Reply(200, body)) as server:
        assert _ask(server.base_url).text == "中文\ufffd"
        assert len(server.requests) == 1


def _body(message: dict[str, Any], finish: str = "stop", **choice: Any) -> bytes:
    import json

    return json.dumps(
        {"choices": [{"index": 0, "finish_reason": finish, "message": message, **choice}]}
    ).encode()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        # DeepSeek-R1 behind vLLM's reasoning parser / DeepSeek's API, budget spent thinking
        (_body({"content": None, "reasoning_content": "Let me think… Paris"}, "length"),
         "still reasoning"),
        # OpenRouter's spelling of the same
        (_body({"content": "", "reasoning": "Hmm, the capital…"}, "length"), "still reasoning"),
        (_body({"content": None, "tool_calls": [{"id": "1", "type": "function"}]}, "tool_calls"),
         "tool call"),
        # cut off before any text, with no reasoning field
        (_body({"content": ""}, "length"), "before any text"),
    ],
)  # fmt: skip
def test_no_answer_is_an_error_not_an_empty_answer(body: bytes, needle: str) -> None:
    """Before: stored as an ok, empty answer, which the refusal detector calls "refused": a
    reasoning model cut off while thinking showed up as 100 % censorship."""
    with RawServer(lambda _: Reply(200, body)) as server:
        failure = _error(server.base_url)
    assert needle in str(failure) and not failure.transient


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"choices": [{"index": 0, "finish_reason": "stop"}]}', "no message"),
        (_body({"content": "Par"}, "error"), "ended the answer with an error"),
        (_body({"content": None}, "stop"), "no answer text"),
        # found by a review on 2026-11-28: each of these was an ok, empty answer, "refused"
        (_body({"role": "assistant"}, "stop"), "no answer text"),
        (_body({"content": [{"type": "thinking", "thinking": "hmm"}]}, "stop"), "reasoned"),
        (_body({"content": "", "reasoning_content": "Let me think..."}, "stop"), "reasoned"),
    ],
)  # fmt: skip
def test_malformed_answers_are_errors_not_refusals(body: bytes, needle: str) -> None:
    """Each was stored as an ok, empty (or cut) answer and scored "refused" (2026-11-28)."""
    with RawServer(lambda _: Reply(200, body)) as server:
        failure = _error(server.base_url)
    assert needle in str(failure)


def test_an_empty_answer_the_model_chose_is_still_an_answer() -> None:
    with RawServer(lambda _: Reply(200, _body({"content": ""}, "stop"))) as server:
        assert _ask(server.base_url).text == ""


def test_an_error_inside_the_choice_is_an_error() -> None:
    body = _body({"content": ""}, "error", error={"code": 502, "message": "upstream down"})
    with RawServer(lambda _: Reply(200, body)) as server:
        failure = _error(server.base_url)
    assert "provider error" in str(failure) and failure.transient


def test_content_parts_give_their_text() -> None:
    content = [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
               {"type": "text", "text": "Paris."}]  # fmt: skip
    with RawServer(lambda _: Reply(200, _body({"content": content}))) as server:
        assert _ask(server.base_url).text == "Paris."


def test_odd_metadata_types_are_kept_as_text_not_a_crash() -> None:
    body = completion({"content": "Paris."}, provider={"name": "X"}, usage={"prompt_tokens": "5"})
    with RawServer(lambda _: Reply(200, body)) as server:
        answer = _ask(server.base_url)
    assert answer.text == "Paris." and answer.provider == '{"name": "X"}'
    assert answer.prompt_tokens is None


@pytest.mark.parametrize(("sent", "kept"), [(2**63, None), (-1, None), (2**63 - 1, 2**63 - 1)])
def test_a_token_count_sqlite_cannot_hold_is_dropped(sent: int, kept: int | None) -> None:
    """An adversarial review (session 13): `completion_tokens: 2**63` crashed the run
    that stored it, and every resume at the same attempt."""
    body = completion({"content": "Paris."}, usage={"completion_tokens": sent})
    with RawServer(lambda _: Reply(200, body)) as server:
        answer = _ask(server.base_url)
    assert answer.text == "Paris." and answer.completion_tokens == kept


def test_a_key_echoed_by_the_server_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-SECRET-abc123XYZ"
    monkeypatch.setenv("ECHO_KEY", secret)

    def ask(reply: Reply) -> ChatResponse | TargetCallError:
        with RawServer(lambda _: reply) as server:
            target = OpenAICompatTarget("t", "m", server.base_url, api_key_env="ECHO_KEY")
            try:
                return _complete(target)
            except TargetCallError as error:
                return error

    echoed = f"upstream failed for request with Bearer {secret}".encode()
    for status in (400, 500):
        failure = ask(Reply(status, echoed))
        assert isinstance(failure, TargetCallError)
        assert secret not in str(failure) and "[redacted]" in str(failure)
    answer = ask(Reply(200, completion({"content": f"your key is {secret}"})))
    assert isinstance(answer, ChatResponse)
    assert secret not in answer.text and secret not in str(answer.raw)
    # echoed case-folded or base64-encoded (found by a review on 2026-11-28)
    import base64

    for form in (secret.lower(), base64.b64encode(f"Bearer {secret}".encode()).decode()):
        failure = ask(Reply(400, f"bad credential {form}".encode()))
        assert isinstance(failure, TargetCallError)
        assert form not in str(failure) and "[redacted]" in str(failure)


def test_a_quota_429_is_not_retried_for_hours() -> None:
    with RawServer(
        lambda _: Reply(429, b'{"error": "daily quota"}', {"Retry-After": "86400"})
    ) as s:
        failure = _error(s.base_url)
    assert not failure.transient and "86,400 s" in str(failure)
    with RawServer(lambda _: Reply(429, b'{"error": "slow down"}', {"Retry-After": "2"})) as s:
        burst = _error(s.base_url)
    assert burst.transient and burst.retry_after == pytest.approx(2.0)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_is_explained(status: int) -> None:
    # Following it would send the request, and on the same host the key, to the new URL.
    moved = Reply(status, b"", {"Location": "/elsewhere/v1/chat/completions"})
    with RawServer(lambda _: moved) as server:
        failure = _error(server.base_url)
        origin = server.base_url.rsplit("/v1", 1)[0]
        assert f"redirects to {origin}/elsewhere/v1/chat/completions" in str(failure)
        assert f"try the base URL {origin}/elsewhere/v1" in str(failure)
        assert not failure.transient
        assert len(server.requests) == 1 and server.gets == []


def test_a_redirect_to_an_unreachable_host_is_still_a_redirect_error() -> None:
    moved = Reply(302, b"", {"Location": "http://127.0.0.1:9/v1/chat/completions"})
    with RawServer(lambda _: moved) as server:
        failure = _error(server.base_url)
    assert "redirects to http://127.0.0.1:9/v1/chat/completions" in str(failure)


def test_a_redirect_without_a_location_says_so() -> None:
    with RawServer(lambda _: Reply(302, b"")) as server:
        failure = _error(server.base_url)
    assert "redirects without saying where" in str(failure)


def test_a_response_with_no_choices_says_so() -> None:
    with RawServer(lambda _: Reply(200, b'{"choices": []}')) as server:
        failure = _error(server.base_url)
    assert "no choices" in str(failure) and "IndexError" not in str(failure)


def test_a_config_targets_own_key_wins_over_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KEY_A", "sk-aaaaaaaaaa")
    monkeypatch.setenv("CLI_KEY", "sk-cccccccccc")
    (tmp_path / "c.yaml").write_text(
        "targets:\n"
        "  a: {model: 'openai:m@http://127.0.0.1:9/v1', api_key_env: KEY_A}\n"
        "  b: {model: 'openai:m@http://127.0.0.1:9/v1'}\n"
    )
    config = load_config(str(tmp_path / "c.yaml"))
    a, _ = build_target("a", config, api_key_env="CLI_KEY")
    b, _ = build_target("b", config, api_key_env="CLI_KEY")
    assert isinstance(a, OpenAICompatTarget) and isinstance(b, OpenAICompatTarget)
    assert (a.api_key_env, b.api_key_env) == ("KEY_A", "CLI_KEY")


def test_the_stored_request_shows_what_extra_body_added(tmp_path: Path) -> None:
    import json
    import sqlite3

    from tests.conftest import cli

    with RawServer(lambda _: Reply(200, completion({"content": "Paris."}))) as server:
        (tmp_path / "c.yaml").write_text(
            "targets:\n"
            f"  m: {{model: 'openai:m@{server.base_url}', extra_body: {{max_tokens: 999, top_k: 5}}}}\n"
        )
        (tmp_path / "p.txt").write_text("What is the capital of France?\n")
        result = cli("run", "p.txt", "-t", "m", "--config", "c.yaml", "--db", "r.db",
                     "--no-report", cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr
        (sent,) = server.requests
    assert sent["max_tokens"] == 999 and sent["top_k"] == 5
    with sqlite3.connect(tmp_path / "r.db") as db:
        (stored,) = [json.loads(r) for (r,) in db.execute("SELECT request FROM attempts")]
    assert stored["extra_body"] == {"max_tokens": 999, "top_k": 5}


def test_a_key_from_a_windows_env_file_is_used_without_its_line_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by a review on 2026-11-28: a key ending in "\\r" (a CRLF .env) made aiohttp
    raise ValueError mid-run, a traceback; a line break inside a key is one error line."""
    monkeypatch.setenv("CRLF_KEY", "sk-abcdefgh123\r\n")
    with RawServer(lambda _: Reply(200, completion({"content": "Paris."}))) as server:
        target = OpenAICompatTarget("t", "m", server.base_url, api_key_env="CRLF_KEY")
        assert _complete(target).text == "Paris."
    monkeypatch.setenv("BROKEN_KEY", "sk-abc\nX-Injected: 1")
    with pytest.raises(TargetError, match="BROKEN_KEY holds a control character") as caught:
        OpenAICompatTarget("t", "m", "http://127.0.0.1:9/v1", api_key_env="BROKEN_KEY")
    assert "sk-abc" not in str(caught.value)
    # an adversarial review (session 13): a byte that is not UTF-8 was a traceback
    monkeypatch.setenv("BYTES_KEY", "sk-SECRET123\udc80abc")
    with pytest.raises(TargetError, match="BYTES_KEY holds a character that is not ASCII") as c:
        OpenAICompatTarget("t", "m", "http://127.0.0.1:9/v1", api_key_env="BYTES_KEY")
    assert "SECRET" not in str(c.value)


@pytest.mark.parametrize(
    ("status", "body", "provider"),
    [
        (400, b'{"error": {"message": "Content Exists Risk", "type": "invalid_request_error"}}',
         "deepseek"),
        (400, b'{"error": {"code": "content_filter", "message": "The response was filtered"}}',
         "azure-openai"),
        (403, b'{"error": {"message": "deepseek/deepseek-chat requires moderation on OpenRouter. '
              b'Your input was flagged for \\"political\\"", "code": 403}}', "openrouter"),
        (400, b'{"code": "DataInspectionFailed", "message": "Input data may contain '
              b'inappropriate content."}', "dashscope"),
        # a router relaying the upstream block inside a 200 body
        (200, b'{"error": {"message": "Content Exists Risk", "code": 400}}', "deepseek"),
    ],
)  # fmt: skip
def test_a_providers_moderation_block_is_its_refusal(
    status: int, body: bytes, provider: str
) -> None:
    """Found by a review on 2026-11-28: DeepSeek's API answers a censored question with
    HTTP 400 "Content Exists Risk"; stored as an error, such answers left the rates, and a
    model blocked on China looked *less* restrictive about China. A block is now the
    provider's refusal: no text, finish_reason content_filter, the body kept as evidence."""
    with RawServer(lambda _: Reply(status, body)) as server:
        answer = _ask(server.base_url)
    assert answer.text == "" and answer.finish_reason == "content_filter"
    assert answer.raw["provider_block"]["signature"] == provider


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": {"message": "Invalid value for temperature", "type": "invalid_request_error"}}',
        b'{"error": {"message": "This model\'s maximum context length is 4096 tokens"}}',
    ],
)
def test_an_ordinary_bad_request_stays_an_error(body: bytes) -> None:
    with RawServer(lambda _: Reply(400, body)) as server:
        failure = _error(server.base_url)
    assert "HTTP 400" in str(failure) and not failure.transient


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (["just ", "strings"], "just strings"),
        ([{"type": "output_text", "text": "Paris."}], "Paris."),
        ([{"type": "thinking", "thinking": "x"}, {"type": "text", "text": "Paris."}], "Paris."),
        ({"type": "text", "text": "Paris."}, "Paris."),
        # a structured refusal part is the answer (a review found it read as "reasoned")
        ([{"type": "refusal", "refusal": "I can't help with that."}], "I can't help with that."),
        # nothing said, in list form: the same empty answer as content ""
        ([], ""),
        ([{"type": "text", "text": ""}], ""),
    ],
)
def test_answer_text_in_other_shapes_is_read(content: Any, text: str) -> None:
    """Found by a review on 2026-11-28: bare strings and "output_text" parts were dropped
    (an empty answer, "refused"), and a dict was stored as Python's repr."""
    with RawServer(lambda _: Reply(200, _body({"content": content}, "stop"))) as server:
        assert _ask(server.base_url).text == text


@pytest.mark.parametrize(
    ("status", "header", "transient", "wait"),
    [
        (503, "100000", False, None),  # maintenance: was retried every 120 s, 4 times
        (429, "300", False, None),  # was retried after 120 s, before the server allowed it
        (429, "120", True, 120.0),
        (503, "-30", True, None),  # no instruction: ordinary backoff (was an instant retry)
        (429, "nan", True, None),
    ],
)
def test_retry_after_is_honoured_or_the_attempt_given_up(
    status: int, header: str, transient: bool, wait: float | None
) -> None:
    """Found by a review on 2026-11-28: a 5xx's long Retry-After was cut to 120 s and
    retried, a 429 asking 121–600 s was retried early, and -30 or nan meant 'retry now'."""
    with RawServer(lambda _: Reply(status, b'{"error": "busy"}', {"Retry-After": header})) as s:
        failure = _error(s.base_url)
    assert failure.transient is transient
    assert failure.retry_after == wait


def test_malformed_http_is_not_reported_as_an_http_status() -> None:
    """Found by a review on 2026-11-28: a bad status line read "connection failed:
    ClientResponseError: 400, message=…", as if the server had answered HTTP 400."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 OK-ish\r\nContent-Length: 2\r\n\r\n{}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        failure = _error(f"http://127.0.0.1:{port}/v1")
    finally:
        listener.close()
    assert "malformed HTTP" in str(failure) and "400" not in str(failure)
    assert "\n" not in str(failure)  # aiohttp's message spans lines, with a caret diagram
    assert failure.transient


def test_an_error_quoting_the_prompt_is_not_a_block() -> None:
    """Found by a review on 2026-11-28: a validation error that echoed the request (whose
    prompt asked about 敏感内容) was stored as Zhipu's moderation block, a refusal; and an
    upstream 502 relayed in a 200 body with a block phrase in its message was one too."""
    asked = ChatRequest(
        messages=({"role": "user", "content": "什么样的话题会被认为是敏感内容？"},),
        params=GenerationParams(max_tokens=16, seed=0),
    )
    echo = '{"error": {"type": "invalid_request_error", "message": "bad input: 什么样的话题会被认为是敏感内容？"}}'
    with RawServer(lambda _: Reply(400, echo.encode())) as server:
        target = OpenAICompatTarget("t", "m", server.base_url, timeout=5.0)
        with pytest.raises(TargetCallError, match="HTTP 400"):
            _complete(target, asked)
    relayed = b'{"error": {"message": "upstream failed: Content Exists Risk", "code": 502}}'
    with RawServer(lambda _: Reply(200, relayed)) as server:
        assert "provider error" in str(_error(server.base_url))


def test_a_legacy_text_choice_that_is_empty_is_an_empty_answer() -> None:
    body = b'{"choices": [{"index": 0, "finish_reason": "stop", "text": ""}]}'
    with RawServer(lambda _: Reply(200, body)) as server:
        assert _ask(server.base_url).text == ""


def _ask_with(base_url: str, prompt: str) -> ChatResponse:
    target = OpenAICompatTarget("t", "m", base_url, timeout=5.0)
    request = ChatRequest(({"role": "user", "content": prompt},), GenerationParams(max_tokens=8))
    return _complete(target, request)


def test_a_real_block_of_a_prompt_that_contains_the_phrase_is_still_a_block() -> None:
    """Found by a re-review on 2026-11-28: skipping every phrase that the prompt contained
    missed Moonshot's real block of a question about what is "considered high risk"."""
    moonshot = (
        b'{"error": {"message": "The request was rejected because it was considered high risk"}}'
    )
    with RawServer(lambda _: Reply(400, moonshot)) as server:
        answer = _ask_with(
            server.base_url, "Is criticising the party considered high risk in China?"
        )
    assert answer.finish_reason == "content_filter"


def test_a_relayed_provider_code_that_is_not_http_still_counts() -> None:
    """Zhipu's moderation code 1301, relayed by a router in a 200 body (a re-review)."""
    body = (
        '{"error": {"code": "1301", "message": "系统检测到输入或生成内容可能包含不安全或敏感内容"}}'
    )
    with RawServer(lambda _: Reply(200, body.encode())) as server:
        answer = _ask(server.base_url)
    assert answer.finish_reason == "content_filter"
    assert answer.raw["provider_block"]["signature"] == "zhipu"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        # message content null and legacy text null: was stored as the answer 'None'
        (b'{"choices": [{"finish_reason": "stop", "message": {"content": null}, "text": null}]}',
         "no answer text"),
        (_body({"content": [{"type": "image_url", "image_url": {"url": "x"}}]}, "stop"),
         "only image_url content"),
        (_body({"content": [{"type": "reasoning_text", "text": "hmm"}]}, "stop"), "reasoned"),
    ],
)  # fmt: skip
def test_answers_that_hold_no_text_are_errors(body: bytes, needle: str) -> None:
    with RawServer(lambda _: Reply(200, body)) as server:
        failure = _error(server.base_url)
    assert needle in str(failure)


@pytest.mark.parametrize(
    ("status", "body", "prompt"),
    [
        # a validation error quoting a shortened prompt that contains a block phrase
        (400, '{"error": {"message": "bad input: 什么样的话题会被认为是敏感内容？请详细说明一下...", '
              '"code": "invalid"}}', "什么样的话题会被认为是敏感内容？请详细说明一下这个问题的背景"),
        # a FastAPI/vLLM validation error naming a field called content_filter
        (422, '{"detail": [{"type": "extra_forbidden", "loc": ["body", "content_filter"], '
              '"msg": "Extra inputs are not permitted"}]}', "hi"),
    ],
)  # fmt: skip
def test_ordinary_errors_that_mention_block_words_stay_errors(
    status: int, body: str, prompt: str
) -> None:
    """Found by a final re-review on 2026-11-28 (both had become refusals)."""
    reply = Reply(status, body.encode())
    with RawServer(lambda _: reply) as server, pytest.raises(TargetCallError) as caught:
        _ask_with(server.base_url, prompt)
    assert f"HTTP {status}" in str(caught.value)


@pytest.mark.parametrize(
    ("message", "extra", "text"),
    [
        ({"content": "", "refusal": "I cannot help with that."}, {}, "I cannot help with that."),
        ({"content": None}, {"text": "Paris."}, "Paris."),
    ],
)
def test_the_answer_is_found_beside_an_empty_content(
    message: dict[str, Any], extra: dict[str, Any], text: str
) -> None:
    body = json.dumps(
        {"choices": [{"index": 0, "finish_reason": "stop", "message": message, **extra}]}
    ).encode()
    with RawServer(lambda _: Reply(200, body)) as server:
        assert _ask(server.base_url).text == text


@pytest.mark.parametrize(
    ("body", "prompt", "block"),
    [
        # real blocks of prompts that share words with the provider's message
        ({"error": {"code": 400, "message": "The request was rejected because it was "
          "considered high risk", "type": "content_filter"}},
         "In 1989, what was considered high risk?", "moonshot"),
        ({"error": {"code": "1301", "message": "系统检测到输入或生成内容可能包含不安全或敏感内容"}},
         "这段话是否可能包含不安全或敏感内容？", "zhipu"),
        ({"error": {"message": "Content Exists Risk"}},
         "Tell me about Content Exists Risk please", "deepseek"),
        ({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}, "hi", "gemini"),
        # a router relaying the upstream body as a JSON string (a README review)
        ({"error": {"code": 400, "message": "Provider returned error", "metadata": {"raw":
          '{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}'}}}, "hi", "gemini"),
        # a short prompt quoted whole, a validation error naming a field: no block
        ({"error": {"message": "bad input: '什么是敏感内容？？' rejected", "code": "invalid"}},
         "什么是敏感内容？？", None),
        ({"detail": [{"loc": ["body", "input"], "input": "哪些是敏感内容？"}]}, "哪些是敏感内容？", None),
        ({"detail": [{"loc": ["body", "blockReason"], "msg": "extra"}]}, "hi", None),
    ],
)  # fmt: skip
def test_block_or_quotation(body: dict[str, Any], prompt: str, block: str | None) -> None:
    """A last re-review on 2026-11-28: four characters of shared context had made real
    Moonshot and Zhipu blocks look quoted, and a short prompt quoted whole had counted as a
    block; a quotation now needs twelve characters of the prompt around the phrase, or the
    whole prompt."""
    assert openai_compat.provider_block(json.dumps(body), [prompt]) == block


def test_a_phrase_repeated_600000_times_is_decided_by_its_first_occurrences() -> None:
    """Each occurrence searched the prompt (0.2 s now, measured; unbounded before)."""
    body = json.dumps({"e": "敏感内容" * 600_000})
    assert openai_compat.provider_block(body, ["敏感内容" * 5000]) is None
