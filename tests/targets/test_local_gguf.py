"""The in-process GGUF target's handling of what the llama.cpp runtime hands back.

The runtime is an external library; a stand-in for its server object (the one thing the
target calls) lets these tests give it malformed answers without loading a model.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from allegiance.targets.base import ChatRequest, GenerationParams, TargetCallError
from allegiance.targets.local_gguf import LocalGGUFTarget

REQUEST = ChatRequest(({"role": "user", "content": "hi"},), GenerationParams())


class _Runtime:
    def __init__(self, answer: Any):
        self.answer = answer

    def handle_chat_completions(self, body: dict[str, Any]) -> Any:
        return self.answer


def _target(tmp_path: Path, answer: Any) -> LocalGGUFTarget:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 60)
    target = LocalGGUFTarget("local:m", path)
    target._server = _Runtime(answer)
    return target


@pytest.mark.parametrize(
    "answer",
    [
        {"choices": []},
        {"choices": None},
        {"choices": ["not a dict"]},
        {"error": {"message": "context overflow"}},
        "a string",
    ],
)
def test_malformed_runtime_answers_are_call_errors(tmp_path: Path, answer: Any) -> None:
    """Before: an empty choices list raised IndexError, which stopped the whole run."""
    with pytest.raises(TargetCallError, match=r"llama\.cpp error") as caught:
        asyncio.run(_target(tmp_path, answer).complete(REQUEST))
    assert not caught.value.transient


def test_a_good_answer(tmp_path: Path) -> None:
    answer = {
        "model": "/secret/path/m.gguf",
        "choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    response = asyncio.run(_target(tmp_path, answer).complete(REQUEST))
    assert (response.text, response.finish_reason, response.completion_tokens) == (
        "hello",
        "stop",
        1,
    )
    assert "model" not in response.raw  # the runtime echoes the file path; identity has the hash
