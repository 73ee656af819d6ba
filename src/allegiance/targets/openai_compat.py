"""Any OpenAI-compatible chat-completions API: OpenRouter, vLLM, Ollama, llama.cpp server,
DeepSeek, Together, …

One pooled ``aiohttp.ClientSession`` per target keeps connections alive across thousands
of requests. aiohttp rather than httpx: on the 2-core reference machine httpx's connection
pool spent most of its time scanning its own connections (2,000 requests at concurrency 32:
httpx 15.9 s, aiohttp 1.4 s against the same loopback server; see benchmarks/throughput.py).

Failures are classified for the engine: 429, 408, 5xx, timeouts, dropped
connections and unparseable bodies are transient (retried, honouring Retry-After); other
4xx (also when a provider reports one inside a 200 body) are permanent and say what to
fix. A body larger than ``MAX_BODY_BYTES`` is refused unread: the server is untrusted, and
one endless answer must not take the whole run's memory. The API key is read from the
environment at construction, sent only in the Authorization header, and never appears in
identity(), stored requests, logs or error messages — a server that echoes it back (in an
error body, or even an answer) has it replaced with "[redacted]" before anything is stored.

An empty answer is recorded as an answer only when the model chose to say nothing: a
reasoning model that spent ``max_tokens`` thinking (content null, ``reasoning_content``
set, finish "length"), a tool call instead of text, or an error inside the choice is an
error, so that it is never counted as a refusal.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import socket
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from allegiance.errors import TargetError
from allegiance.targets.base import ChatRequest, ChatResponse, TargetCallError

# 32,768 answer tokens are ~130 KB of JSON; 16 MiB leaves room for logprobs and verbose
# providers while bounding what a hostile or broken server can make us hold.
MAX_BODY_BYTES = 16 * 1024 * 1024
# characters an HTTP header value cannot carry (aiohttp raises ValueError on them)
_HEADER_BREAKING = re.compile(r"[\x00-\x1f\x7f]")
# A 429 or 5xx that asks for a longer wait than this is a quota or maintenance, not a burst:
# not retried. The runner waits at most this long between tries, so a wait it could not
# honour is never cut short (retrying before the server allows is what gets keys banned).
RETRY_AFTER_GIVE_UP = 120.0


def _echoed_forms(secret: str) -> set[str]:
    """The ways a server has been seen to echo a key back: as sent, case-folded, and
    base64-encoded (alone or as a Basic/Bearer credential) — all redacted, not only the
    exact string (a review found the lower-cased and base64 forms stored, 2026-11-28)."""
    import base64

    forms = {secret, secret.lower(), secret.upper()}
    for raw in (secret, f"Bearer {secret}", f":{secret}"):
        encoded = raw.encode()
        for text in (base64.b64encode(encoded), base64.urlsafe_b64encode(encoded)):
            forms.add(text.decode().rstrip("="))
    return {form for form in forms if len(form) >= 8}


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # a negative or NaN delay is no instruction at all: back off as usual
        return seconds if seconds >= 0 else None
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def read_api_key(name: str, api_key_env: str | None) -> str | None:
    """The key in ``api_key_env`` (None when no variable is named), or one clear error: the
    variable unset or empty, or holding a control character inside the key. Surrounding
    whitespace is dropped: a key read from a Windows-edited .env ends in "\r"."""
    if not api_key_env:
        return None
    api_key = (os.environ.get(api_key_env) or "").strip()
    if not api_key:
        raise TargetError(
            f"target {name!r}: environment variable {api_key_env} is not set "
            "(it should hold the API key)"
        )
    if _HEADER_BREAKING.search(api_key):
        raise TargetError(
            f"target {name!r}: environment variable {api_key_env} holds a control "
            "character (a line break?) inside the key; it cannot be sent in a header"
        )
    if not api_key.isascii():  # bytes that are not UTF-8 arrive as lone surrogates
        raise TargetError(
            f"target {name!r}: environment variable {api_key_env} holds a character that is "
            "not ASCII (a pasted quote, or bytes that are not text?); API keys are ASCII"
        )
    return api_key


def check_base_url(name: str, base_url: str) -> None:
    """Reject a URL that cannot work, with one line, before anything uses it. Credentials in
    the URL are refused rather than stripped: the target's name is stored in the results
    database and printed in every report, and a key must never land there."""
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as error:
        raise TargetError(f"target base URL is malformed ({error})") from None
    if parts.username is not None or parts.password is not None:
        raise TargetError(
            "a target URL must not carry credentials (user:password@host); put the key in "
            "an environment variable and name it with --api-key-env"
        )
    if parts.query or parts.fragment:
        # "/v1?key=…" would post to "/v1?key=…/chat/completions" (every attempt a 404) and
        # store whatever the query holds, keys included, in the database and reports
        raise TargetError(
            "a target base URL must not carry a query or fragment (?… or #…); put a key in an "
            "environment variable and name it with --api-key-env"
        )
    if parts.scheme not in ("http", "https"):
        raise TargetError(f"target {name!r}: base URL must start with http:// or https://")
    if not parts.hostname:
        raise TargetError(f"target {name!r}: base URL {base_url!r} names no host")


class OpenAICompatTarget:
    """A model behind ``BASE_URL/chat/completions``."""

    def __init__(
        self,
        name: str,
        model: str,
        base_url: str,
        *,
        api_key_env: str | None = None,
        timeout: float = 60.0,
        max_connections: int = 64,
        max_concurrency: int | None = None,
        provider: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        check_base_url(name, base_url)
        self.name = name
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.provider_prefs = provider or {}
        self.extra_body = extra_body or {}
        self.api_key_env = api_key_env
        api_key = read_api_key(name, api_key_env)
        for header, value in (headers or {}).items():
            if _HEADER_BREAKING.search(f"{header}{value}"):
                raise TargetError(f"target {name!r}: header {header!r} holds a control character")
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        # What must never be stored or printed, even when a server echoes it back in an
        # error: the key, and header values that look like credentials.
        self._secrets = sorted(
            {
                form
                for key, value in [("authorization", api_key or ""), *(headers or {}).items()]
                if len(value) >= 8 and re.search(r"auth|key|token|secret", key, re.IGNORECASE)
                for form in _echoed_forms(value)
            },
            key=len,
            reverse=True,
        )
        self._timeout = timeout
        self._max_connections = max_connections
        # The engine never has more requests in flight to this target than this (a
        # provider's rate limit, set as ``concurrency:`` in the config file).
        self.max_concurrency = max_concurrency or max_connections
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        """The pooled session, created inside the running event loop on first use."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout, connect=min(self._timeout, 10.0)
                ),
                connector=aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300),
                trust_env=False,
            )
        return self._session

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {
            "kind": "openai",
            "model": self.model,
            "base_url": self.base_url,
        }
        if self.provider_prefs:
            identity["provider_preferences"] = self.provider_prefs
        if self.extra_body:
            identity["extra_body"] = self.extra_body
        return identity

    def warm(self) -> None:
        """Fail fast with one clear line when the server cannot be reached at all, instead
        of recording every attempt as a connection error. A TCP connection to the host is
        enough proof (and costs no HTTP machinery at start-up)."""
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "", port), timeout=5.0):
                pass
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise TargetError(
                f"target {self.name!r}: cannot reach {self.base_url} ({reason})"
            ) from error

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, **request.as_dict(), **self.extra_body}
        if self.provider_prefs:
            body["provider"] = self.provider_prefs
        return body

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One answer; any error message is redacted first (servers echo headers back)."""
        try:
            response = await self._complete(request)
        except TargetCallError as error:
            message = self.redact(str(error))
            if message == str(error):
                raise
            raise TargetCallError(
                message, transient=error.transient, retry_after=error.retry_after
            ) from None
        if self._secrets:
            raw_text = json.dumps(response.raw)  # once, not once per secret
            if any(secret in response.text or secret in raw_text for secret in self._secrets):
                response = dataclasses.replace(
                    response,
                    text=self.redact(response.text),
                    raw=json.loads(self.redact(raw_text)),
                )
        return response

    async def _complete(self, request: ChatRequest) -> ChatResponse:
        session = self._session_now()
        try:
            # Redirects are not followed: aiohttp would send the request (and, on the same
            # host, the API key) to the new URL before we could object, and turns a POST
            # into a GET on 301-303.
            async with session.post(
                f"{self.base_url}/chat/completions",
                json=self.body(request),
                allow_redirects=False,
            ) as reply:
                status = reply.status
                retry_after = reply.headers.get("Retry-After")
                if 300 <= status < 400:
                    raise TargetCallError(_redirect_message(status, reply), transient=False)
                raw = await _read_capped(reply)
        except TimeoutError as error:
            raise TargetCallError(f"timed out after {self._timeout:g} s", transient=True) from error
        except aiohttp.ClientResponseError as error:
            # raised while parsing what came back (a bad status line, a header over 8 KB,
            # broken chunking): its "status" is aiohttp's, not the server's
            first_line = (str(error.message).strip().splitlines() or ["?"])[0]
            raise TargetCallError(
                f"the server sent malformed HTTP ({_snippet(first_line)})", transient=True
            ) from error
        except aiohttp.ClientError as error:
            raise TargetCallError(
                f"connection failed: {type(error).__name__}: {error}", transient=True
            ) from error
        text_body = raw.decode("utf-8", errors="replace")
        wait = _retry_after(retry_after)
        retryable = status in (408, 429) or status >= 500
        if retryable and wait is not None and wait > RETRY_AFTER_GIVE_UP:
            # a quota or maintenance, not a burst: retrying every two minutes would spend
            # hours failing, and retrying sooner than asked is not allowed
            what = "rate limited" if status == 429 else "unavailable"
            raise TargetCallError(
                f"HTTP {status}: {what}, and the server asks to wait {wait:,.0f} s "
                f"(over {RETRY_AFTER_GIVE_UP:.0f} s); not retried: {_snippet(text_body)}",
                transient=False,
            )
        if status == 429 or status == 408 or status >= 500:
            raise TargetCallError(
                f"HTTP {status}: {_snippet(text_body)}", transient=True, retry_after=wait
            )
        if status in (400, 403, 422, 451) and (block := provider_block(text_body, _sent(request))):
            # the provider would not let the model answer: that is the provider's refusal,
            # and an audit of a hosted model must count it as one, not drop it as an error
            return _blocked(status, block, text_body)
        if status in (401, 403):
            hint = (
                f" (check {self.api_key_env})" if self.api_key_env else " (no API key configured)"
            )
            raise TargetCallError(f"HTTP {status}: not authorised{hint}", transient=False)
        if status >= 400:
            raise TargetCallError(f"HTTP {status}: {_snippet(text_body)}", transient=False)
        try:
            # Decoded leniently: a runtime that cuts a multi-byte character at max_tokens
            # sends invalid UTF-8, and the answer is still the answer (with U+FFFD there).
            # NaN/Infinity (which Python's json accepts) kept as text: stored raw as they
            # came, they make the column invalid JSON for anyone querying it
            data = json.loads(text_body, parse_constant=str)
            if isinstance(data.get("error"), dict | str) and not data.get("choices"):
                return _relayed(data["error"], status, text_body, request)
            if not data.get("choices"):
                raise TargetCallError(
                    f"malformed response: no choices: {_snippet(text_body)}", transient=True
                )
            choice = data["choices"][0]
            if isinstance(choice.get("error"), dict | str):
                # OpenRouter reports an upstream failure inside the choice, content ""
                return _relayed(choice["error"], status, text_body, request)
            if not isinstance(choice.get("message"), dict) and not isinstance(
                choice.get("text"), str
            ):
                raise TargetCallError(
                    f"malformed response: a choice with no message: {_snippet(text_body)}",
                    transient=True,
                )
            message = choice.get("message") or {}
            text = _content_text(message.get("content"))
            if (
                not (text or "").strip()
                and isinstance(message.get("refusal"), str)
                and message["refusal"].strip()
            ):
                # OpenAI's structured refusal: no content, the refusal text in its own field.
                # Dropping it would record a refusal as an empty answer.
                text = message["refusal"]
            # a completions-style choice: {"text": …}; beside a message whose content is
            # null, only a text that says something counts
            legacy = choice.get("text")
            if not isinstance(legacy, str) or (
                isinstance(choice.get("message"), dict) and not legacy
            ):
                legacy = None
            if text is None and legacy is not None:
                text = legacy
            _check_not_empty(
                text, message, choice.get("finish_reason"), legacy_text=legacy is not None
            )
        except (
            ValueError,  # bad JSON, and an integer of 5,000 digits
            RecursionError,  # JSON nested 100,000 deep
            KeyError,
            IndexError,
            TypeError,
            AttributeError,
        ) as error:
            # a truncated body may come whole next time; one nested 100,000 deep or with a
            # 5,000-digit number will not
            hopeless = isinstance(error, RecursionError) or "digits" in str(error)
            raise TargetCallError(
                f"unreadable response body ({type(error).__name__}): {_snippet(text_body)}",
                transient=not hopeless,
            ) from error
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return ChatResponse(
            text="" if text is None else str(text),
            finish_reason=_short_text(choice.get("finish_reason")),
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            model_reported=_short_text(data.get("model")),
            provider=_short_text(data.get("provider")),
            system_fingerprint=_short_text(data.get("system_fingerprint")),
            raw=data,
        )

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def _read_capped(reply: aiohttp.ClientResponse) -> bytes:
    """The body, or a permanent error once it passes ``MAX_BODY_BYTES`` (announced or not)."""
    too_big = TargetCallError(
        f"response body larger than {MAX_BODY_BYTES:,} bytes; not read",
        transient=False,
    )
    if (reply.content_length or 0) > MAX_BODY_BYTES:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in reply.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _content_text(content: Any) -> str | None:
    """The answer text: a string, or the text parts of a list of content parts (Mistral's
    Magistral sends [{"type": "thinking", …}, {"type": "text", "text": …}]; the Responses
    style says "output_text"; some servers send bare strings); None if absent."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_part_text(part) for part in content)
    return _part_text(content) if isinstance(content, dict) else str(content)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    if part.get("type", "text") in ("text", "output_text") and isinstance(part.get("text"), str):
        return str(part["text"])
    if part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
        return str(part["refusal"])  # a structured refusal is the answer, as a string is
    return ""  # a thinking, image or tool part: not answer text


# content-part types that carry a model's reasoning, not its answer
_REASONING_PARTS = frozenset(
    {"thinking", "redacted_thinking", "reasoning", "reasoning_content", "reasoning_text"}
)


def _check_not_empty(
    text: Any, message: dict[str, Any], finish_reason: Any, legacy_text: bool = False
) -> None:
    """An empty answer is only an answer if the model chose to say nothing. A reasoning model
    that spent max_tokens thinking, or a tool call instead of text, gave no answer to judge:
    recorded as one, it would be counted as a refusal."""
    if finish_reason == "error":  # a cut-off or empty answer the provider says failed
        raise TargetCallError("the provider ended the answer with an error", transient=True)
    if text not in (None, ""):
        return
    if message.get("tool_calls"):
        raise TargetCallError("the model answered with a tool call, not text", transient=False)
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning and finish_reason == "length":
        raise TargetCallError(
            f"no answer: the token limit ran out while the model was still reasoning "
            f"({len(str(reasoning)):,} characters of reasoning); raise --max-tokens",
            transient=False,
        )
    if finish_reason == "length":
        raise TargetCallError(
            "no answer: the token limit ran out before any text; raise --max-tokens",
            transient=False,
        )
    if finish_reason == "content_filter":
        return  # the provider's refusal, kept as such
    content = message.get("content")
    thinking = isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") in _REASONING_PARTS for part in content
    )
    if reasoning or thinking:
        # it reasoned, then stopped without a word of answer: nothing to judge (recorded as
        # an empty answer it would be counted as a refusal)
        raise TargetCallError(
            "no answer: the model reasoned and ended without any answer text", transient=False
        )
    other = sorted(
        {
            str(part.get("type"))
            for part in (content if isinstance(content, list) else [content])
            if isinstance(part, dict) and part.get("type") not in ("text", "output_text", "refusal")
        }
    )
    if other:
        # an image, audio or tool part and no text: no answer to judge (not a silence)
        raise TargetCallError(
            f"no answer text: the model sent only {', '.join(other)} content", transient=False
        )
    if content is None and not legacy_text:
        # no text at all (content null or absent), and no reason given for it; an empty
        # string, or a list of empty text parts, is a model that chose to say nothing
        raise TargetCallError("malformed response: no answer text and no refusal", transient=True)


def _short_text(value: Any) -> str | None:
    """A metadata field as text: servers are untrusted, and one sent an object as `provider`."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)[:200]


# A token count is a hint the server gives; SQLite stores integers below 2**63, and a count
# of 2**63 crashed the run that stored it (an adversarial review, session 13).
_MAX_COUNT = 2**63 - 1


def _count(value: Any) -> int | None:
    """A usage count as sent, or None for anything but a non-negative int SQLite can hold."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT:
        return value
    return None


# What providers send when their moderation stops a request or an answer (HTTP 400/403/
# 422/451 with one of these in the body). Specific phrases only: a generic 400 (a bad
# parameter) must stay an error, not become a refusal. Sources: the providers' API docs and
# error bodies seen in the wild; each pattern names whose it is.
_BLOCK_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("deepseek", re.compile(r"Content Exists Risk", re.IGNORECASE)),
    ("azure-openai", re.compile(r"^code=content_filter$|ResponsibleAIPolicyViolation")),
    ("openai", re.compile(r"content_policy_violation")),
    ("openrouter", re.compile(r"requires moderation.{0,80}flagged", re.IGNORECASE | re.DOTALL)),
    ("dashscope", re.compile(r"DataInspectionFailed|data_inspection_failed")),
    ("moonshot", re.compile(r"considered high risk", re.IGNORECASE)),
    ("zhipu", re.compile(r"不安全或敏感内容|敏感内容")),
    ("gemini", re.compile(r"^blockReason=|^finish_?[rR]eason=PROHIBITED_CONTENT$")),
)


def provider_block(body: str, sent: Sequence[str] = ()) -> str | None:
    """Which provider's moderation block this error body is, or None. A phrase the body
    only quotes back from the prompt does not count: a validation error echoing
    "…认为是敏感内容？请详细…", or a short prompt quoted whole, is not a block, while a real
    block of a prompt that shares a few words with it ("…was considered high risk") is."""
    try:
        value: Any = json.loads(body)
    except (ValueError, RecursionError):
        value = body
    return _block_signature(value, sent)


def _block_signature(value: Any, sent: Sequence[str]) -> str | None:
    """:func:`provider_block` on a body already parsed (a router's relayed error)."""
    texts = list(_strings(value))
    messages = [m.strip() for m in sent if m.strip()]
    asked = "\n".join(messages)
    for text in texts:
        for name, pattern in _BLOCK_SIGNATURES:
            # a few occurrences decide: a body repeating the phrase 600,000 times must
            # not cost a search of the prompt for each
            for match in itertools.islice(pattern.finditer(text), 20):
                if not _quoted(text, match.start(), match.end(), asked, messages):
                    return name
    return None


# characters of the prompt around a phrase that mark the body as quoting the prompt (more
# than shared words like " was" or 可能包含 around a provider's own message)
_QUOTE_CONTEXT = 12


def _quoted(text: str, start: int, end: int, asked: str, messages: Sequence[str]) -> bool:
    """Whether the phrase at ``text[start:end]`` is part of a quotation of the prompt: the
    body around it matches the prompt for at least ``_QUOTE_CONTEXT`` more characters, or
    the matching stretch is a whole message that was sent (a short prompt quoted whole)."""
    if text[start:end] not in asked:
        return False
    left = 0
    while left < _QUOTE_CONTEXT and start - left > 0 and text[start - left - 1 : end] in asked:
        left += 1
    right = 0
    while (
        right < _QUOTE_CONTEXT
        and end + right < len(text)
        and text[start - left : end + right + 1] in asked
    ):
        right += 1
    return left + right >= _QUOTE_CONTEXT or text[start - left : end + right] in messages


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string value in a JSON value, and each ``key=value`` pair of a dict's string
    values (so a pattern can ask for ``code=content_filter``), depth-first. A string that is
    itself a JSON object is read too, twice over at most: routers relay the upstream body
    that way (``"metadata": {"raw": "{\\"promptFeedback\\": …}"}``)."""
    if isinstance(value, str):
        yield value
        if depth < 2 and value.lstrip().startswith("{") and len(value) < 1_000_000:
            try:
                inner = json.loads(value)
            except (ValueError, RecursionError):
                return
            yield from _strings(inner, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                yield f"{key}={item}"
            yield from _strings(item, depth)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth)


def _sent(request: ChatRequest) -> list[str]:
    """The texts a request sent, which an error body may quote back."""
    return [str(m.get("content", "")) for m in request.messages]


def _error_code(error: Any) -> Any:
    """A provider error's own ``code``, as a number when it is written as digits."""
    code = error.get("code") if isinstance(error, dict) else None
    return int(code) if isinstance(code, str) and code.isdigit() else code


def _relayed(error: Any, status: int, body: str, request: ChatRequest) -> ChatResponse:
    """An error a router relays inside a 200 body: a moderation block is the provider's
    refusal — unless its code is an HTTP 5xx (an upstream 502 whose message happens to
    contain a block phrase is a failure; a provider's own code, Zhipu's 1301 for
    moderation, is not an HTTP status); anything else is raised as the provider's error."""
    code = _error_code(error)
    if not (isinstance(code, int) and 500 <= code < 600) and (
        block := _block_signature(error, _sent(request))
    ):
        return _blocked(status, block, body)
    raise _provider_error(error)


def _blocked(status: int, provider: str, body: str) -> ChatResponse:
    """A moderation block as the answer it stands for: no text, finish_reason
    ``content_filter`` (as a provider's own filtered answer has), the body kept as evidence."""
    return ChatResponse(
        text="",
        finish_reason="content_filter",
        raw={"provider_block": {"status": status, "signature": provider, "body": _snippet(body)}},
    )


def _provider_error(error: Any) -> TargetCallError:
    """An error a provider reports inside a 200 body (OpenRouter does, for upstream
    failures). Its own code decides: a 4xx other than 408/429 will not get better by
    asking again; anything else (5xx, no code) is retried."""
    code = _error_code(error)
    permanent = isinstance(code, int) and 400 <= code < 500 and code not in (408, 429)
    return TargetCallError(f"provider error: {_snippet(str(error))}", transient=not permanent)


def _redirect_message(status: int, reply: aiohttp.ClientResponse) -> str:
    """Where a redirect points, resolved against the request, and the base URL to use."""
    location = reply.headers.get("Location")
    if not location:
        return (
            f"HTTP {status}: the server redirects without saying where (redirects are not followed)"
        )
    try:
        target = str(reply.url.join(type(reply.url)(location)))  # yarl, aiohttp's URL type
    except ValueError:
        target = location
    # a base URL with credentials in it is refused, so the advice must not carry them
    base = re.sub(r"/chat/completions/?$", "", re.sub(r"//[^/@]*@", "//", target))
    advice = (
        f"; try the base URL {_snippet(base)}"
        if base != target
        else "; check the target's base URL"
    )
    return (
        f"HTTP {status}: the server redirects to {_snippet(target)} (redirects are not followed: "
        f"they would carry the request, and on the same host the key){advice}"
    )


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
