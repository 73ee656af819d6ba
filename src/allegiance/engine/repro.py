"""Re-send a recorded request and check whether its verdicts recur.

A finding is only as good as its reproducibility: the stored request (messages and
sampling parameters, including the seed) is sent again unchanged, each new answer is
judged by the same detectors, and the outcome is stored next to the original attempt.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from allegiance.config import Config
from allegiance.detectors.base import get_detector
from allegiance.engine.plan import AttemptSpec
from allegiance.engine.plan import attempt_id as plan_attempt_id
from allegiance.engine.runner import RunSettings, call_with_retries
from allegiance.errors import StoreError
from allegiance.store.sqlite import Store
from allegiance.suites.model import Probe
from allegiance.targets.base import ChatRequest, ChatResponse, GenerationParams, Target, warm_up
from allegiance.targets.resolve import build_target, target_id


@dataclass
class ReproResult:
    attempt_id: str
    target: str
    identical: int = 0
    identity_changed: bool = False
    # what the server says it served now, where it differs from the recorded answer's
    # ("model: m-v1 -> m-v2"): a hosted endpoint can change the model behind one name
    served_changed: list[str] = field(default_factory=list)
    labels: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # the stored request still hashes to its attempt id (False: edited after it was recorded,
    # or recorded by an allegiance with another attempt-id scheme)
    request_matches: bool = True


def reproduce(
    store: Store, attempt_id: str, times: int, config: Config, *, api_key_env: str | None = None
) -> ReproResult:
    attempt = store.get_attempt(attempt_id)
    if api_key_env is None:
        api_key_env = recorded_key_variable(store, attempt.attempt_id)
    target, _ = build_target(attempt.target_name, config, api_key_env=api_key_env)
    warm_up(target)
    result = ReproResult(attempt.attempt_id, attempt.target_name)
    result.identity_changed = target_id(target.identity()) != attempt.target_id
    request = attempt.request
    try:
        params = GenerationParams(
            temperature=float(request["temperature"]),
            max_tokens=int(request["max_tokens"]),
            top_p=float(request.get("top_p", 1.0)),
            seed=int(request["seed"]),
        )
        messages = tuple(dict(m) for m in request["messages"])
    except (KeyError, TypeError, ValueError, AttributeError) as problem:
        raise StoreError(
            f"attempt {attempt.attempt_id[:12]}: its stored request is malformed ({problem!r})"
        ) from None
    probe_key = f"{attempt.suite}/{attempt.probe_id}"
    result.request_matches = (
        plan_attempt_id(attempt.target_id, messages, params, attempt.sample_index, probe_key)
        == attempt.attempt_id
    )
    probe = Probe.from_record(attempt.probe)
    spec = AttemptSpec(
        attempt.attempt_id,
        attempt.target_name,
        attempt.target_id,
        probe,
        attempt.sample_index,
        ChatRequest(messages, params),
    )
    answers = asyncio.run(_send(target, spec, times))
    recorded = store.verdicts([attempt.attempt_id]).get(attempt.attempt_id, {})
    texts = []
    for response, error in answers:
        if error is not None or response is None:
            result.errors.append(error or "no answer")
            continue
        texts.append(response.text or "")
        for what, before, now in (
            ("model", attempt.model_reported, response.model_reported),
            ("system fingerprint", attempt.system_fingerprint, response.system_fingerprint),
        ):
            change = f"{what}: {before} -> {now}"
            if before and now and before != now and change not in result.served_changed:
                result.served_changed.append(change)
    result.identical = sum(1 for t in texts if t == (attempt.response_text or ""))
    for name in probe.detectors:
        if name not in recorded:
            continue
        detector = get_detector(name)
        labels = [detector(probe, t).label for t in texts]
        result.labels[name] = (recorded[name].label, labels)
        store.record_repro(attempt.attempt_id, name, recorded[name].label, labels, texts)
    return result


def recorded_key_variable(store: Store, attempt_id: str) -> str | None:
    """The name of the environment variable (never its value) that the latest run asking
    this attempt took its API key from: a reproduction should authenticate as the run
    did without the user remembering how."""
    for run in reversed(store.runs_of_attempt(attempt_id)):
        name = (run.get("settings") or {}).get("api_key_env")
        if isinstance(name, str) and name:
            return name
    return None


async def _send(
    target: Target, spec: AttemptSpec, times: int
) -> list[tuple[ChatResponse | None, str | None]]:
    settings = RunSettings(concurrency=1, progress=False)
    out: list[tuple[ChatResponse | None, str | None]] = []
    try:
        for _ in range(times):
            response, error, _, _ = await call_with_retries(target, spec, settings)
            out.append((response, error))
    finally:
        await target.aclose()
    return out
