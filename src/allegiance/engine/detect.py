"""Apply detectors to stored answers.

Detection is not part of the request loop: detectors are pure, so verdicts can be
recomputed at any time (a new detector version re-judges old runs without asking the model
again), and slow detectors never hold back a fast target. During a run,
:class:`JudgeAsAnswered` judges each answer on a thread once it is stored;
:func:`apply_detectors` then judges whatever has no current verdict.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from allegiance.detectors.base import DetectorInfo, get_detector
from allegiance.store.sqlite import (
    AttemptRecord,
    Store,
    StoredVerdict,
    clean_text,
    dumps,
)
from allegiance.suites.model import Probe

log = logging.getLogger(__name__)


def detectors_for(attempt: Answer) -> list[str]:
    return list(attempt.probe.get("detectors") or [])


def probe_hash(attempt: Answer) -> str:
    """What a verdict depends on besides the answer: the answer key and tags."""
    key = {"expect": attempt.probe.get("expect"), "tags": attempt.probe.get("tags")}
    canonical = json.dumps(key, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def judge_attempt(detector: DetectorInfo, attempt: Answer, key: str | None = None) -> StoredVerdict:
    """One verdict; ``key`` is the attempt's :func:`probe_hash` when the caller has it."""
    key = key if key is not None else probe_hash(attempt)
    probe = Probe.from_record(attempt.probe)
    try:
        verdict = detector(probe, attempt.response_text or "")
    except Exception as error:  # a detector bug must not lose the run; it is recorded
        log.warning("detector %s failed on %s: %s", detector.name, attempt.attempt_id, error)
        return StoredVerdict(
            attempt.attempt_id,
            detector.name,
            detector.version,
            "detector-error",
            False,
            None,
            {"error": f"{type(error).__name__}: {error}"},
            key,
        )
    return StoredVerdict(
        attempt_id=attempt.attempt_id,
        detector=detector.name,
        detector_version=detector.version,
        label=verdict.label,
        flagged=verdict.flagged,
        score=verdict.score,
        evidence=dict(verdict.evidence),
        probe_hash=key,
    )


class Answer(Protocol):
    """What judging reads of an attempt (a stored one, or one the engine just recorded)."""

    @property
    def attempt_id(self) -> str: ...
    @property
    def probe(self) -> dict[str, Any]: ...
    @property
    def response_text(self) -> str | None: ...


class JudgeAsAnswered:
    """Judges each answer on a daemon thread as soon as the engine has stored it.

    The request loop spends most of a run waiting on the network or the model, so the
    verdicts are ready when the last answer arrives instead of being computed after it. The
    detectors first load their data (marker files, rules, package lists). The thread only
    computes; :meth:`finish` hands the verdicts to the caller, which writes them (the store
    belongs to the thread that opened it), and :func:`apply_detectors` then judges whatever
    is still missing: the attempts of an earlier run, or everything when this was never
    started or the run was interrupted. A detector that raises gets a ``detector-error``
    verdict here as it would there.
    """

    def __init__(self, detector_names: Iterable[str]) -> None:
        self._names = sorted(set(detector_names))
        self._queue: queue.SimpleQueue[AttemptRecord | None] = queue.SimpleQueue()
        self._verdicts: list[StoredVerdict] = []
        self._thread = threading.Thread(target=self._work, name="judge-as-answered", daemon=True)
        self._thread.start()

    def submit(self, record: AttemptRecord) -> None:
        """Queue a successful attempt the engine has just stored."""
        self._queue.put(record)

    def finish(self) -> list[StoredVerdict]:
        """Wait for the queued answers to be judged and return their verdicts."""
        self._queue.put(None)
        self._thread.join()
        return self._verdicts

    def _work(self) -> None:
        detectors: dict[str, DetectorInfo] = {}
        for name in self._names:
            try:
                detectors[name] = get_detector(name)
                prepare = detectors[name].prepare
                if prepare is not None:
                    prepare()
            except Exception as error:  # left for apply_detectors, which reports it
                log.debug("preparing detector %s failed: %s", name, error)
        while (record := self._queue.get()) is not None:
            # judged as the store will hold it: the same text and the probe as read back
            stored = _StoredAnswer(
                record.attempt_id, json.loads(dumps(record.probe)), clean_text(record.response_text)
            )
            key = probe_hash(stored)
            for name in detectors_for(stored):
                if name in detectors:
                    self._verdicts.append(judge_attempt(detectors[name], stored, key))


@dataclass(frozen=True)
class _StoredAnswer:
    attempt_id: str
    probe: dict[str, Any]
    response_text: str | None


def apply_detectors(
    store: Store, run_id: str, *, only: Sequence[str] | None = None, force: bool = False
) -> int:
    """Judge every successful attempt of the run that lacks a current verdict: none yet, or
    one from another detector version or another answer key.

    Returns the number of verdicts written.
    """
    attempts = [a for a in store.run_attempts(run_id) if a.status == "ok"]
    existing = store.verdicts([a.attempt_id for a in attempts])
    pending: list[StoredVerdict] = []
    cache: dict[str, DetectorInfo] = {}
    for attempt in attempts:
        key = probe_hash(attempt)  # once per attempt, not once per detector
        for name in detectors_for(attempt):
            if only and name not in only:
                continue
            detector = cache.get(name) or get_detector(name)
            cache[name] = detector
            current = existing.get(attempt.attempt_id, {}).get(name)
            if (
                not force
                and current is not None
                and current.detector_version == detector.version
                and current.probe_hash == key
            ):
                continue
            pending.append(judge_attempt(detector, attempt, key))
    return record_verdicts(store, pending)


def record_verdicts(store: Store, verdicts: Sequence[StoredVerdict]) -> int:
    """Write ``verdicts`` in batches of 500 (one transaction each); returns how many."""
    for start in range(0, len(verdicts), 500):
        store.record_verdicts(verdicts[start : start + 500])
    return len(verdicts)
