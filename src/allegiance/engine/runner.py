"""The asyncio runner: bounded concurrency per target, retries with backoff, cache and
resume through the store, a progress bar, and a clean stop on Ctrl-C.

Every attempt ends recorded: as a success, or — after retries run out, or on a permanent
error — as an error with a message that says what happened. Attempts that already have a
successful answer in the store are never sent again (that is both the cache and resume).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from allegiance.engine.plan import AttemptSpec
from allegiance.store.sqlite import AttemptRecord, Store
from allegiance.targets.base import ChatResponse, Target, TargetCallError


@dataclass(frozen=True)
class RunSettings:
    concurrency: int = 8
    retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    progress: bool = True


@dataclass
class RunOutcome:
    planned: int = 0
    cached: int = 0
    completed: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    error_examples: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.completed + self.errors


def backoff_delay(attempt: int, settings: RunSettings, retry_after: float | None) -> float:
    """Exponential backoff with "equal jitter" (a random delay in the upper half of the
    exponential ceiling, so retries spread out yet never come back at once); a server's
    Retry-After wins when given, capped at ``retry_after_max``."""
    if retry_after is not None:
        return min(retry_after, settings.retry_after_max)
    ceiling = min(settings.backoff_max, settings.backoff_base * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


async def call_with_retries(
    target: Target, spec: AttemptSpec, settings: RunSettings
) -> tuple[ChatResponse | None, str | None, int, float]:
    tries = 0
    started = time.perf_counter()
    while True:
        tries += 1
        try:
            response = await target.complete(spec.request)
            return response, None, tries, time.perf_counter() - started
        except TargetCallError as error:
            if not error.transient or tries > settings.retries:
                reason = f"{error} (after {tries} tries)" if error.transient else str(error)
                return None, reason, tries, time.perf_counter() - started
            await asyncio.sleep(backoff_delay(tries - 1, settings, error.retry_after))
        except Exception as error:
            # whatever one answer does to a target (a body no parser expected), it is that
            # attempt's recorded error: the run goes on, and a resume does not meet it again
            reason = f"unexpected error reading the answer: {type(error).__name__}: {error}"
            redact = getattr(target, "redact", None)
            reason = redact(reason) if callable(redact) else reason
            return None, reason[:500], tries, time.perf_counter() - started


def _record(
    spec: AttemptSpec, response: ChatResponse | None, error: str | None, tries: int, latency: float
) -> AttemptRecord:
    record = AttemptRecord(
        attempt_id=spec.attempt_id,
        target_id=spec.target_id,
        suite=spec.probe.suite,
        probe_id=spec.probe.id,
        sample_index=spec.sample_index,
        seed=spec.seed,
        request=spec.request.as_dict(),
        probe=spec.probe.to_record(),
        status="ok" if response is not None else "error",
        error=error,
        tries=tries,
        latency_s=round(latency, 4),
    )
    if response is not None:
        record.response_text = response.text
        record.finish_reason = response.finish_reason
        record.prompt_tokens = response.prompt_tokens
        record.completion_tokens = response.completion_tokens
        record.model_reported = response.model_reported
        record.provider = response.provider
        record.system_fingerprint = response.system_fingerprint
        record.response = response.raw
    return record


async def execute(
    specs: Sequence[AttemptSpec],
    targets: Mapping[str, Target],
    store: Store,
    run_id: str,
    settings: RunSettings,
) -> RunOutcome:
    """Run every spec not already answered, recording each as it completes."""
    outcome = RunOutcome(planned=len(specs))
    started = time.perf_counter()
    store.link(run_id, [s.attempt_id for s in specs])
    done = store.completed_ids([s.attempt_id for s in specs])
    pending = [s for s in specs if s.attempt_id not in done]
    outcome.cached = len(specs) - len(pending)
    store.refresh_probes((s.attempt_id, s.probe.to_record()) for s in specs if s.attempt_id in done)
    if not pending:
        outcome.elapsed_s = time.perf_counter() - started
        return outcome

    by_target: dict[str, list[AttemptSpec]] = defaultdict(list)
    for spec in pending:
        by_target[spec.target_name].append(spec)

    bar = _progress(len(pending), settings.progress)

    async def worker(target: Target, queue: asyncio.Queue[AttemptSpec]) -> None:
        while True:
            try:
                spec = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            response, error, tries, latency = await call_with_retries(target, spec, settings)
            record = _record(spec, response, error, tries, latency)
            overrides = getattr(target, "extra_body", None)
            if overrides:
                # sent on top of the request (a config's extra_body may even replace its
                # max_tokens): stored with it, so the record says what the server received
                record.request = {**record.request, "extra_body": overrides}
            store.record_attempt(record)
            if response is None:
                outcome.errors += 1
                if len(outcome.error_examples) < 5:
                    outcome.error_examples.append(f"{spec.probe.id}: {error}")
            else:
                outcome.completed += 1
            if bar is not None:
                bar.update(1)

    tasks = []
    for name, target_specs in by_target.items():
        target = targets[name]
        queue: asyncio.Queue[AttemptSpec] = asyncio.Queue()
        for spec in target_specs:
            queue.put_nowait(spec)
        limit = min(settings.concurrency, getattr(target, "max_concurrency", settings.concurrency))
        tasks += [asyncio.create_task(worker(target, queue)) for _ in range(max(1, limit))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        if bar is not None:
            bar.close()
        outcome.elapsed_s = time.perf_counter() - started
    return outcome


class _Bar:
    """tqdm on stderr, imported only when a bar is shown."""

    def __init__(self, total: int):
        from tqdm import tqdm

        self._bar = tqdm(
            total=total, unit="req", file=sys.stderr, dynamic_ncols=True, smoothing=0.1
        )

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def _progress(total: int, enabled: bool) -> _Bar | None:
    if not enabled or not sys.stderr.isatty():
        return None
    return _Bar(total)
