"""What a run will cost before it starts: attempts, tokens and (for local models) time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from allegiance.engine.session import RunRequest

# Measured on the 2-core reference machine (README, "Performance"): decode and prompt
# tokens per second of the embedded models with llama.cpp.
LOCAL_SPEEDS = {
    "qwen2.5-coder-0.5b": (57.0, 180.0),
    "smollm2-135m": (150.0, 600.0),
    "qwen2.5-coder-1.5b": (36.0, 90.0),
}
# Calibrated on `audit --quick` (README, "Performance"): the share of max_tokens the small
# models use on average, the chat template's own tokens, and a fixed cost per request.
EXPECTED_FILL = 0.8
TEMPLATE_TOKENS = 30
PER_ATTEMPT_S = 0.2


@dataclass(frozen=True)
class Estimate:
    attempts: int
    prompt_tokens: int
    max_completion_tokens: int
    seconds_by_target: dict[str, float | None]


def estimate(request: RunRequest, *, default_max_tokens: int | None = None) -> Estimate:
    from allegiance.engine.plan import answer_tokens
    from allegiance.targets.embedded import ALIASES

    attempts = prompt = completion = 0
    for suite in request.suites:
        for probe in suite.probes:
            chars = sum(len(m["content"]) for m in probe.messages)
            tokens = answer_tokens(
                request.max_tokens, probe, suite, default_max_tokens, request.token_caps
            )
            attempts += request.samples
            prompt += request.samples * (chars // 4 + TEMPLATE_TOKENS)
            completion += request.samples * tokens
    seconds: dict[str, float | None] = {}
    for spec in request.target_specs:
        name = spec.removeprefix("local:")
        speeds = LOCAL_SPEEDS.get(ALIASES.get(name, name))
        seconds[spec] = (
            completion * EXPECTED_FILL / speeds[0] + prompt / speeds[1] + attempts * PER_ATTEMPT_S
            if speeds
            else None
        )
    return Estimate(attempts, prompt, completion, seconds)


def format_estimate(est: Estimate) -> str:
    parts = [
        f"plan: {est.attempts} attempts per target, ~{est.prompt_tokens:,} prompt tokens, "
        f"at most {est.max_completion_tokens:,} answer tokens"
    ]
    for target, seconds in est.seconds_by_target.items():
        if seconds is not None:
            parts.append(
                f"  {target}: about {seconds / 60:.1f} min on 2 CPU cores (before cache hits)"
            )
    return "\n".join(parts)
