"""What a probe is once a suite file has been expanded.

A :class:`Probe` is fully rendered: its messages are exactly what the model will see. All
the structure that analysis needs (topic, government, language, template, entity, trigger
context, task) travels in ``tags``; everything a detector needs to judge an answer (answer
key, key facts, narrative markers, the task's language) travels in ``expect``. Both are
stored with every attempt, so reports never need the suite file again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Probe:
    id: str
    suite: str
    messages: tuple[dict[str, str], ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    detectors: tuple[str, ...] = ()
    max_tokens: int | None = None

    @property
    def prompt(self) -> str:
        """The last user message: what detectors usually compare the answer against."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "suite": self.suite,
            "messages": [dict(m) for m in self.messages],
            "tags": dict(self.tags),
            "expect": dict(self.expect),
            "detectors": list(self.detectors),
            "max_tokens": self.max_tokens,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Probe:
        return cls(
            id=str(record["id"]),
            suite=str(record.get("suite", "")),
            messages=tuple(dict(m) for m in record.get("messages", [])),
            tags={str(k): str(v) for k, v in (record.get("tags") or {}).items()},
            expect=dict(record.get("expect") or {}),
            detectors=tuple(record.get("detectors") or ()),
            max_tokens=record.get("max_tokens"),
        )

    @classmethod
    def from_prompt(
        cls, prompt: str, *, id: str = "external", expect: Mapping[str, Any] | None = None
    ) -> Probe:
        """A probe for an answer collected elsewhere (``allegiance judge``)."""
        return cls(
            id=id,
            suite="external",
            messages=({"role": "user", "content": prompt},),
            expect=dict(expect or {}),
        )
