"""The Target protocol: anything that answers chat requests.

The engine only ever sees this interface, so an OpenAI-compatible API, an in-process GGUF
model and a test double are interchangeable. A target reports *transient* failures (worth a
retry: rate limits, 5xx, timeouts, dropped connections) separately from *permanent* ones
(bad request, unknown model), so the engine's retry policy lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters sent with every request; part of the attempt id."""

    temperature: float = 0.0
    max_tokens: int = 256
    top_p: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[dict[str, str], ...]
    params: GenerationParams

    def as_dict(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], **self.params.as_dict()}


@dataclass
class ChatResponse:
    """One answer. ``raw`` is the provider's JSON (API keys never appear in it)."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model_reported: str | None = None
    provider: str | None = None
    system_fingerprint: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class TargetCallError(Exception):
    """A request failed. ``transient`` failures are retried by the engine."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


@runtime_checkable
class Target(Protocol):
    """Something that answers chat requests."""

    name: str

    def identity(self) -> dict[str, Any]:
        """What this target *is*, recorded with every attempt and hashed into its id.

        For a local model: the weights' sha256 and the runtime version. For an HTTP API:
        base URL and model id. Never contains secrets.
        """
        ...

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Answer one request or raise :class:`TargetCallError`."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads or model memory."""
        ...


def warm_up(target: Target) -> None:
    """Let a target fail early: load a local model, or check that a server answers at all,
    before a run records every attempt as the same error. Targets without ``warm`` (test
    doubles, anything that connects lazily) are left alone."""
    warm = getattr(target, "warm", None)
    if callable(warm):
        warm()
