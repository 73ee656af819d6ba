"""Attempt specs and their content-addressed ids.

An attempt's id is the sha256 of (target identity, rendered messages, generation
parameters, sample index, probe). Caching, resume, de-duplication and ``repro`` all fall out
of that one key: the same probe asked of the same model with the same settings is the same
attempt, whichever run asked it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from allegiance.suites.loader import Suite
from allegiance.suites.model import Probe
from allegiance.targets.base import ChatRequest, GenerationParams


@dataclass(frozen=True)
class PlannedTarget:
    name: str
    target_id: str


@dataclass(frozen=True)
class AttemptSpec:
    attempt_id: str
    target_name: str
    target_id: str
    probe: Probe
    sample_index: int
    request: ChatRequest

    @property
    def seed(self) -> int:
        return self.request.params.seed


def attempt_id(
    target_id: str,
    messages: Sequence[dict[str, str]],
    params: GenerationParams,
    sample_index: int,
    probe_key: str,
) -> str:
    """Content hash of one attempt: the target, exactly what is sent, the sample, and which
    probe it answers ("suite/probe id").

    The probe is part of the identity because an attempt is judged against its probe's tags
    and answer key: when two suites ask the same question, each keeps its own attempt (and
    the run asks twice) rather than one suite silently reusing the other's record.
    """
    canonical = json.dumps(
        {
            "target": target_id,
            "messages": [dict(m) for m in messages],
            "params": params.as_dict(),
            "sample": sample_index,
            "probe": probe_key,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# Which recipe the ids follow. 2: the probe ("suite/id") is part of the hash. A run recorded
# under another scheme cannot be resumed: its ids would not match and every answer would be
# asked and counted again.
ATTEMPT_ID_SCHEME = 2

DEFAULT_MAX_TOKENS = 256


def answer_tokens(
    override: int | None,
    probe: Probe,
    suite: Suite,
    default: int | None = None,
    caps: Mapping[str, int] | None = None,
) -> int:
    """The answer length for one probe: the command line's ``--max-tokens`` wins, then the
    probe's own setting, then the suite's, then the configured default (the target's own
    when it has one). ``caps`` (suite name or "*" -> tokens, what ``--quick`` asks for) only
    ever shorten that, never lengthen it, and do not apply over ``--max-tokens``. The planner
    and the cost estimate both use this, so the estimate is of the run that will happen."""
    tokens = override or probe.max_tokens or suite.max_tokens or default or DEFAULT_MAX_TOKENS
    cap = (caps or {}).get(suite.name, (caps or {}).get("*"))
    return min(tokens, cap) if cap and not override else tokens


def sample_seed(base_seed: int, sample_index: int) -> int:
    """Distinct, recorded seed for each sample of a probe."""
    return (base_seed + sample_index * 7919) % (2**31)


def plan_attempts(
    suites: Sequence[Suite],
    targets: Sequence[PlannedTarget],
    *,
    samples: int = 1,
    seed: int = 0,
    temperature: float = 0.0,
    top_p: float = 1.0,
    max_tokens: int | None = None,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    token_caps: Mapping[str, int] | None = None,
) -> list[AttemptSpec]:
    """Every (target × probe × sample) as a spec, in a stable order, without duplicates.

    ``max_tokens`` (from the command line) overrides the suite and probe settings;
    ``default_max_tokens`` (from the config file) applies only where neither sets one.
    """
    specs: list[AttemptSpec] = []
    seen: set[str] = set()
    for target in targets:
        for suite in suites:
            for probe in suite.probes:
                tokens = answer_tokens(max_tokens, probe, suite, default_max_tokens, token_caps)
                for index in range(samples):
                    params = GenerationParams(
                        temperature=temperature,
                        max_tokens=tokens,
                        top_p=top_p,
                        seed=sample_seed(seed, index),
                    )
                    key = attempt_id(
                        target.target_id, probe.messages, params, index, f"{suite.name}/{probe.id}"
                    )
                    if key in seen:
                        continue
                    seen.add(key)
                    specs.append(
                        AttemptSpec(
                            attempt_id=key,
                            target_name=target.name,
                            target_id=target.target_id,
                            probe=probe,
                            sample_index=index,
                            request=ChatRequest(messages=probe.messages, params=params),
                        )
                    )
    return specs
