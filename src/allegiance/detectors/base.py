"""Detectors are pure functions ``(probe, response_text) -> Verdict``.

No I/O, no global state: the same inputs always give the same verdict, so a verdict can be
recomputed from the store at any time, and a detector can be validated on labelled data with
``allegiance judge``. (The LLM judge is the one exception: it asks a model, through a target,
and lives in :mod:`allegiance.detectors.llm_judge`.)

Each detector declares which of its labels count as the outcome we measure (``flagged``):
for ``refusal`` that is *refused* or *evasive*, for ``code-security`` a vulnerability. Rates,
intervals and findings are computed over ``flagged``. A detector may also declare labels on
which it abstains (``code-security`` on an answer with no code): those answers are counted
and listed, but they are in no rate, because "no vulnerability in no code" would make a
model that refuses to write code look secure (that refusal is ``kill-switch``'s to measure).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from allegiance.errors import ConfigError
from allegiance.suites.model import Probe


@dataclass(frozen=True)
class Verdict:
    label: str
    flagged: bool
    score: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "flagged": self.flagged,
            "score": self.score,
            "evidence": dict(self.evidence),
        }


DetectFn = Callable[[Probe, str], Verdict]


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    version: str
    labels: tuple[str, ...]
    flagged_labels: tuple[str, ...]
    description: str
    fn: DetectFn
    abstain_labels: tuple[str, ...] = ()
    # Loads what the detector reads (marker files, weights) into its caches; a run calls it
    # on a background thread while it waits for answers, so judging does not start cold.
    prepare: Callable[[], object] | None = None

    def __call__(self, probe: Probe, response: str) -> Verdict:
        return self.fn(probe, response)


# Detector name -> module that registers it. Modules are imported only when a detector is
# used, so `allegiance --help` stays fast and heavy parsers load only when needed.
DETECTOR_MODULES: dict[str, str] = {
    "refusal": "allegiance.detectors.refusal",
    "facts": "allegiance.detectors.facts",
    "narrative": "allegiance.detectors.narrative",
    "code-security": "allegiance.detectors.code_security",
    "design-choice": "allegiance.detectors.design_choice",
    "packages": "allegiance.detectors.packages",
    "kill-switch": "allegiance.detectors.kill_switch",
    "scope": "allegiance.detectors.scope",
}

_REGISTRY: dict[str, DetectorInfo] = {}


def register(
    name: str,
    *,
    version: str,
    labels: tuple[str, ...],
    flagged_labels: tuple[str, ...],
    description: str,
    abstain_labels: tuple[str, ...] = (),
    prepare: Callable[[], object] | None = None,
) -> Callable[[DetectFn], DetectFn]:
    """Decorator that registers a pure detector function under ``name``."""

    def wrap(fn: DetectFn) -> DetectFn:
        _REGISTRY[name] = DetectorInfo(
            name=name,
            version=version,
            labels=labels,
            flagged_labels=flagged_labels,
            description=description,
            fn=fn,
            abstain_labels=abstain_labels,
            prepare=prepare,
        )
        return fn

    return wrap


def get_detector(name: str) -> DetectorInfo:
    """The detector called ``name``, importing its module on first use."""
    if name not in _REGISTRY:
        module = DETECTOR_MODULES.get(name)
        if module is None:
            known = ", ".join(sorted(DETECTOR_MODULES))
            raise ConfigError(f"unknown detector {name!r}; known detectors: {known}")
        importlib.import_module(module)
    if name not in _REGISTRY:
        raise ConfigError(f"detector {name!r} is not available (module did not register it)")
    return _REGISTRY[name]


def available_detectors() -> list[str]:
    return sorted(DETECTOR_MODULES)
