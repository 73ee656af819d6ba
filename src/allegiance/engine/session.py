"""One run, end to end: build targets, plan attempts, execute, judge. Used by `run` and
`audit`; the CLI only parses options and prints."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from allegiance import __version__
from allegiance.config import Config
from allegiance.engine.detect import apply_detectors
from allegiance.engine.plan import AttemptSpec, PlannedTarget, plan_attempts
from allegiance.engine.runner import RunOutcome, RunSettings, execute
from allegiance.store.sqlite import Store
from allegiance.suites.loader import Suite
from allegiance.targets.base import Target
from allegiance.targets.resolve import build_target, target_id


@dataclass
class RunRequest:
    suites: Sequence[Suite]
    target_specs: Sequence[str]
    samples: int = 1
    seed: int = 0
    concurrency: int = 8
    max_tokens: int | None = None
    temperature: float | None = None
    run_id: str | None = None
    retries: int = 4
    timeout: float | None = None
    api_key_env: str | None = None
    command: str = ""
    progress: bool = True
    online_packages: bool = False
    extra_settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    run_id: str
    resumed: bool
    outcome: RunOutcome
    verdicts_written: int
    interrupted: bool = False


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"run-{stamp}-{secrets.token_hex(2)}"


def build_targets(
    specs: Sequence[str],
    config: Config,
    *,
    api_key_env: str | None,
    timeout: float | None,
    concurrency: int,
) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    for spec in specs:
        if spec in targets:
            continue
        target, _ = build_target(
            spec, config, api_key_env=api_key_env, timeout=timeout, max_connections=concurrency
        )
        targets[spec] = target
    return targets


def plan_for(request: RunRequest, config: Config, targets: dict[str, Target]) -> list[AttemptSpec]:
    planned = [PlannedTarget(name, target_id(t.identity())) for name, t in targets.items()]
    temperature = request.temperature
    if temperature is None:
        temperature = (
            config.defaults.temperature
            if request.samples == 1
            else max(config.defaults.temperature, 0.7)
        )
    return plan_attempts(
        request.suites,
        planned,
        samples=request.samples,
        seed=request.seed,
        temperature=temperature,
        top_p=config.defaults.top_p,
        max_tokens=request.max_tokens or config.defaults.max_tokens,
    )


def run(request: RunRequest, config: Config, store: Store) -> RunResult:
    """Execute a run (or resume one), then apply detectors. Ctrl-C keeps what completed."""
    targets = build_targets(
        request.target_specs,
        config,
        api_key_env=request.api_key_env,
        timeout=request.timeout,
        concurrency=request.concurrency,
    )
    for target in targets.values():
        warm = getattr(target, "warm", None)
        if warm is not None:
            warm()
    specs = plan_for(request, config, targets)
    run_id = request.run_id or new_run_id()
    for name, target in targets.items():
        identity = target.identity()
        store.register_target(target_id(identity), name, identity.get("kind", "?"), identity)
    settings_record = {
        "allegiance": __version__,
        "suites": [
            {"name": s.name, "version": s.version, "probes": len(s.probes), "pairs": list(s.pairs)}
            for s in request.suites
        ],
        "targets": list(targets),
        "samples": request.samples,
        "seed": request.seed,
        "max_tokens": request.max_tokens,
        "concurrency": request.concurrency,
        **request.extra_settings,
    }
    resumed = store.begin_run(run_id, request.command, settings_record)
    settings = RunSettings(
        concurrency=request.concurrency, retries=request.retries, progress=request.progress
    )
    interrupted = False
    outcome = RunOutcome(planned=len(specs))
    try:
        outcome = asyncio.run(_execute_and_close(specs, targets, store, run_id, settings))
    except KeyboardInterrupt:
        interrupted = True
        store.finish_run(run_id, "interrupted")
        print(
            f"\ninterrupted: everything completed so far is stored; resume with --run-id {run_id}",
            file=sys.stderr,
        )
        raise
    if request.online_packages:
        refresh_package_index(store, run_id)
    verdicts = apply_detectors(store, run_id)
    status = "complete" if outcome.errors == 0 else "complete-with-errors"
    store.finish_run(run_id, status)
    return RunResult(run_id, resumed, outcome, verdicts, interrupted)


def refresh_package_index(store: Store, run_id: str) -> int:
    """The explicit online step of the packages detector for this run's answers."""
    from allegiance.detectors.packages import refresh_online

    answers = [
        a.response_text or ""
        for a in store.run_attempts(run_id)
        if a.status == "ok" and "packages" in (a.probe.get("detectors") or [])
    ]
    return len(refresh_online(answers)) if answers else 0


async def _execute_and_close(
    specs: Sequence[AttemptSpec],
    targets: dict[str, Target],
    store: Store,
    run_id: str,
    settings: RunSettings,
) -> RunOutcome:
    try:
        return await execute(specs, targets, store, run_id, settings)
    finally:
        for target in targets.values():
            await target.aclose()
