"""Any OpenAI-compatible chat-completions API: OpenRouter, vLLM, Ollama, llama.cpp server,
DeepSeek, Together, …

One pooled ``httpx.AsyncClient`` per target keeps connections alive across thousands of
requests. Failures are classified for the engine: 429, 408, 5xx, timeouts, dropped
connections and unparseable bodies are transient (retried, honouring Retry-After); other
4xx are permanent and say what to fix. The API key is read from the environment at
construction, sent only in the Authorization header, and never appears in identity(),
stored requests, logs or error messages.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx

from allegiance.errors import TargetError
from allegiance.targets.base import ChatRequest, ChatResponse, TargetCallError


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
        provider: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise TargetError(f"target {name!r}: base URL must start with http:// or https://")
        self.name = name
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.provider_prefs = provider or {}
        self.extra_body = extra_body or {}
        self.api_key_env = api_key_env
        api_key = None
        if api_key_env:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                raise TargetError(
                    f"target {name!r}: environment variable {api_key_env} is not set "
                    "(it should hold the API key)"
                )
        request_headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            request_headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=request_headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            trust_env=False,
        )

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
        of recording every attempt as a connection error. Any HTTP answer (even 404 for
        servers without /models) proves the server is there."""
        try:
            with httpx.Client(timeout=5.0, trust_env=False) as client:
                client.get(f"{self.base_url}/models")
        except httpx.TransportError as error:
            raise TargetError(
                f"target {self.name!r}: cannot reach {self.base_url} "
                f"({type(error).__name__}: {error or 'no answer'})"
            ) from error

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, **request.as_dict(), **self.extra_body}
        if self.provider_prefs:
            body["provider"] = self.provider_prefs
        return body

    async def complete(self, request: ChatRequest) -> ChatResponse:
        try:
            reply = await self._client.post("/chat/completions", json=self.body(request))
        except httpx.TimeoutException as error:
            raise TargetCallError(f"timed out ({type(error).__name__})", transient=True) from error
        except httpx.TransportError as error:
            raise TargetCallError(
                f"connection failed: {type(error).__name__}: {error}", transient=True
            ) from error
        status = reply.status_code
        if status == 429 or status == 408 or status >= 500:
            raise TargetCallError(
                f"HTTP {status}: {_snippet(reply.text)}",
                transient=True,
                retry_after=_retry_after(reply.headers.get("retry-after")),
            )
        if status in (401, 403):
            hint = (
                f" (check {self.api_key_env})" if self.api_key_env else " (no API key configured)"
            )
            raise TargetCallError(f"HTTP {status}: not authorised{hint}", transient=False)
        if status >= 400:
            raise TargetCallError(f"HTTP {status}: {_snippet(reply.text)}", transient=False)
        try:
            data = reply.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content")
            if text is None:
                text = choice.get("text", "")
        except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as error:
            raise TargetCallError(
                f"unreadable response body ({type(error).__name__}): {_snippet(reply.text)}",
                transient=True,
            ) from error
        if isinstance(data.get("error"), dict):
            raise TargetCallError(f"provider error: {data['error']}", transient=True)
        usage = data.get("usage") or {}
        return ChatResponse(
            text=str(text),
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            model_reported=data.get("model"),
            provider=data.get("provider"),
            system_fingerprint=data.get("system_fingerprint"),
            raw=data,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
