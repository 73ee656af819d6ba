"""One run, end to end: build targets, plan attempts, execute, judge. Used by `run` and
`audit`; the CLI only parses options and prints."""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from allegiance import __version__
from allegiance.config import Config
from allegiance.detectors.base import get_detector
from allegiance.engine.detect import apply_detectors, prepare_in_background
from allegiance.engine.plan import (
    ATTEMPT_ID_SCHEME,
    DEFAULT_MAX_TOKENS,
    AttemptSpec,
    PlannedTarget,
    plan_attempts,
)
from allegiance.engine.runner import RunOutcome, RunSettings, execute
from allegiance.errors import ConfigError, StoreError
from allegiance.store.sqlite import Store, this_host, this_pid
from allegiance.suites.loader import Suite
from allegiance.targets.base import Target, warm_up
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
    # suite name or "*" -> answer cap (``--quick``): shortens, never lengthens, any default
    token_caps: Mapping[str, int] = field(default_factory=dict)
    extra_settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    run_id: str
    resumed: bool
    outcome: RunOutcome
    verdicts_written: int


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
    """Every attempt of the run. Each target gets its own generation defaults (the config's
    ``defaults`` under its own ``generation:``); the command line overrides both."""
    specs: list[AttemptSpec] = []
    seen: set[str] = set()
    for name, target in targets.items():
        defaults = config.generation_for(name)
        temperature = request.temperature
        if temperature is None:
            temperature = (
                defaults.temperature if request.samples == 1 else max(defaults.temperature, 0.7)
            )
        planned = plan_attempts(
            request.suites,
            [PlannedTarget(name, target_id(target.identity()))],
            samples=request.samples,
            seed=request.seed,
            temperature=temperature,
            top_p=defaults.top_p,
            max_tokens=request.max_tokens,
            default_max_tokens=defaults.max_tokens or DEFAULT_MAX_TOKENS,
            token_caps=request.token_caps,
        )
        # two names for one model (local:qwen and local:qwen2.5-coder-0.5b) ask once
        specs += [s for s in planned if s.attempt_id not in seen]
        seen.update(s.attempt_id for s in planned)
    return specs


def check_suites(suites: Sequence[Suite]) -> None:
    """Refuse, before any request is sent, what would otherwise fail or mislead after the
    answers are in: a detector name that does not exist, or two different suites under one
    name (their probes, pairs and rates would be merged in the report)."""
    sources: dict[str, str] = {}
    for suite in suites:
        if sources.setdefault(suite.name, suite.source) != suite.source:
            raise ConfigError(
                f"two different suites are named {suite.name!r} ({sources[suite.name]} and "
                f"{suite.source}); rename one so their results stay apart"
            )
        for name in sorted({d for probe in suite.probes for d in probe.detectors}):
            get_detector(name)


def merge_settings(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A resumed run's settings: the latest options, with every suite and target either
    invocation used. Without this, a suite added on resume would lose its ``pairs`` (and its
    symmetry comparisons) in the report."""
    merged = {**old, **new}
    suites = {s.get("name"): s for s in old.get("suites", [])}
    suites.update({s.get("name"): s for s in new.get("suites", [])})
    merged["suites"] = list(suites.values())
    merged["targets"] = list(dict.fromkeys([*old.get("targets", []), *new.get("targets", [])]))
    # what the run asked, for reproduce lines: no pattern (everything) on either side wins
    if "probe_patterns" in old or "probe_patterns" in new:
        before, now = old.get("probe_patterns") or [], new.get("probe_patterns") or []
        merged["probe_patterns"] = list(dict.fromkeys([*before, *now])) if before and now else []
    return merged


def _check_same_questions(store: Store, run_id: str, specs: Sequence[AttemptSpec]) -> None:
    """Refuse a resume that would ask a question of the run differently. An attempt's id is a
    hash of everything that shapes the request (prompt, seed, temperature, answer cap, target),
    so a probe the run already holds under another id was edited, or is being asked with other
    options or another config: both answers would then count in the run's rates (a probe
    twice). Adding suites, targets, probes or samples is a resume too, and allowed."""
    asked = {
        (a.target_id, a.suite, a.probe_id, a.sample_index): a.attempt_id
        for a in store.run_attempts(run_id)
    }
    for spec in specs:
        earlier = asked.get((spec.target_id, spec.probe.suite, spec.probe.id, spec.sample_index))
        if earlier is not None and earlier != spec.attempt_id:
            raise ConfigError(
                f"run {run_id!r} asked {spec.probe.id!r} differently (another prompt, seed, "
                "temperature, answer cap or config): resuming would count both answers. "
                "Repeat the run's options, or start a new --run-id"
            )


def _check_resumable(store: Store, run_id: str) -> dict[str, Any] | None:
    """Refuse to extend a run whose attempt ids follow another recipe (see plan.py).

    Returns the stored settings of the run being resumed (None for a new run), so they are
    read once."""
    try:
        existing = store.get_run(run_id)
    except StoreError:
        return None  # a new run
    scheme = existing["settings"].get("attempt_ids", 1)
    if scheme != ATTEMPT_ID_SCHEME:
        raise ConfigError(
            f"run {run_id!r} was recorded by an older allegiance whose attempt ids differ "
            f"(scheme {scheme}, now {ATTEMPT_ID_SCHEME}); resuming it would ask every "
            "question again: start a new --run-id (the old run and its answers stay in the store)"
        )
    return dict(existing["settings"])


def run(request: RunRequest, config: Config, store: Store) -> RunResult:
    """Execute a run (or resume one), then apply detectors. Ctrl-C keeps what completed.

    The run ends ``complete``, ``complete-with-errors``, ``interrupted`` (Ctrl-C) or
    ``failed`` (anything else stopped it): never ``running`` once this returns or raises.
    """
    check_suites(request.suites)
    targets = build_targets(
        request.target_specs,
        config,
        api_key_env=request.api_key_env,
        timeout=request.timeout,
        concurrency=request.concurrency,
    )
    for target in targets.values():
        warm_up(target)
    specs = plan_for(request, config, targets)
    run_id = request.run_id or new_run_id()
    for name, target in targets.items():
        identity = target.identity()
        store.register_target(target_id(identity), name, identity.get("kind", "?"), identity)
    settings_record = {
        "allegiance": __version__,
        "suites": [
            {
                "name": s.name,
                "version": s.version,
                "probes": len(s.probes),
                "pairs": list(s.pairs),
                "argument": s.argument,
            }
            for s in request.suites
        ],
        "targets": list(targets),
        "samples": request.samples,
        "seed": request.seed,
        # the variable's *name* (never its value), for reproduce lines
        "api_key_env": request.api_key_env,
        "max_tokens": request.max_tokens,
        "concurrency": request.concurrency,
        # what the artifact scan said of each local model file, for the report's target rows
        "artifact_scans": {
            name: scan
            for name, target in targets.items()
            if (scan := getattr(target, "artifact_scan", None))
        },
        # who is asking: a second process resuming the same run at once is refused
        "runner": {"host": this_host(), "pid": this_pid()},
        **request.extra_settings,
    }
    settings_record["attempt_ids"] = ATTEMPT_ID_SCHEME
    previous = _check_resumable(store, run_id)
    if previous is not None:
        _check_same_questions(store, run_id, specs)
    resumed = store.begin_run(run_id, request.command, settings_record)
    if resumed:
        store.set_settings(run_id, merge_settings(previous or {}, settings_record))
    settings = RunSettings(
        concurrency=request.concurrency, retries=request.retries, progress=request.progress
    )
    restore = _terminate_as_interrupt()
    preparing = prepare_in_background(name for spec in specs for name in spec.probe.detectors)
    try:
        outcome = asyncio.run(_execute_and_close(specs, targets, store, run_id, settings))
        preparing.join()
        if request.online_packages:
            refresh_package_index(store, run_id)
        verdicts = apply_detectors(store, run_id)
    except KeyboardInterrupt:
        store.finish_run(run_id, "interrupted")
        print(
            f"\ninterrupted: everything completed so far is stored; resume with --run-id {run_id}",
            file=sys.stderr,
        )
        raise
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    finally:
        restore()
    status = "complete" if outcome.errors == 0 else "complete-with-errors"
    store.finish_run(run_id, status)
    return RunResult(run_id, resumed, outcome, verdicts)


def _terminate_as_interrupt() -> Callable[[], None]:
    """While a run asks its questions, SIGTERM (``timeout``, ``docker stop``, a cancelled CI
    job) is handled as Ctrl-C: the run is marked ``interrupted`` and can be resumed, instead
    of the process dying with the run left ``running``. Returns what undoes this."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)

    def interrupt(*_: object) -> None:
        # raised here, not forwarded as SIGINT: a job started in the background by a
        # script has SIGINT ignored, and a forwarded SIGINT would then be ignored too
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


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
