"""Scan pickle streams: raw pickles, legacy PyTorch files, joblib files, nested pickles.

A file can hold several pickles back to back (legacy ``torch.save`` writes five, then raw
storage bytes), and a loader may read them all, so every pickle that follows is scanned
too. Findings made before a parse error are kept: ``pickle.load`` executes opcodes as it
reads them, so a payload at the start of a file that is garbled later still runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from allegiance.artifacts.bytesource import ByteSource
from allegiance.artifacts.findings import FileResult, Severity
from allegiance.artifacts.limits import DEFAULT_LIMITS, Limits, ScanAbort
from allegiance.artifacts.pickle_vm import PICKLE_PROTOCOL_MAX, Emit, PickleMachine

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_LEGACY_PICKLES = 5  # magic, protocol, sys info, objects, storage keys


@dataclass
class PickleStats:
    streams: int = 0
    opcodes: int = 0
    protocol: int = 0
    globals: set[str] = field(default_factory=set)
    legacy_torch: bool = False
    error: str | None = None


class _Run:
    """Shared state for one file: where findings go and the nested-pickle recursion."""

    def __init__(self, result: FileResult, where: str, limits: Limits) -> None:
        self.result = result
        self.where = where
        self.limits = limits
        self.deadline = time.monotonic() + limits.pickle_max_seconds
        self.stats = PickleStats()
        self.buffer: list[tuple[Severity, str, str, str]] | None = None

    def emitter(self, prefix: str) -> Emit:
        def emit(severity: Severity, rule: str, message: str, offset: int) -> None:
            location = f"{self.where}{prefix}offset {offset}"
            if self.buffer is not None:
                self.buffer.append((severity, rule, message, location))
            else:
                self.result.add(severity, rule, message, location)

        return emit

    def nested(self, prefix: str) -> Callable[[bytes, int, int], None]:
        def scan_nested(data: bytes, offset: int, depth: int) -> None:
            here = f"{prefix}offset {offset} > nested pickle: "
            if depth > self.limits.pickle_max_nested_depth:
                self.result.add(
                    Severity.HIGH,
                    "pickle.nested",
                    "pickle nested deeper than the scan limit; not scanned further",
                    f"{self.where}{here}",
                )
                return
            self.result.add(
                Severity.MEDIUM,
                "pickle.nested",
                f"a {len(data)}-byte argument is itself a pickle (scanned below)",
                f"{self.where}{prefix}offset {offset}",
            )
            machine = PickleMachine(
                ByteSource.from_bytes(data),
                self.emitter(here),
                self.limits,
                depth,
                self.deadline,
                self.nested(here),
            )
            try:
                machine.run()
            except ScanAbort as error:
                self.result.add(
                    Severity.MEDIUM,
                    "pickle.nested",
                    f"nested pickle does not parse to the end: {error}",
                    f"{self.where}{here}",
                )

        return scan_nested

    def machine(self, source: ByteSource) -> PickleMachine:
        return PickleMachine(
            source, self.emitter(""), self.limits, 0, self.deadline, self.nested("")
        )

    def absorb(self, machine: PickleMachine) -> None:
        self.stats.streams += 1
        self.stats.opcodes += machine.opcodes
        self.stats.protocol = max(self.stats.protocol, machine.protocol)
        self.stats.globals.update(machine.globals)


def scan_pickle_stream(
    source: ByteSource,
    result: FileResult,
    where: str = "",
    limits: Limits = DEFAULT_LIMITS,
    expect_eof: bool = True,
) -> PickleStats:
    """Scan every pickle in ``source``; record findings and any fault on ``result``."""
    run = _Run(result, where, limits)
    first = run.machine(source)
    try:
        value = first.run()
    except ScanAbort as error:
        run.absorb(first)
        run.stats.error = str(error)
        result.fail(f"{where}pickle does not parse: {error}")
        _record(result, run.stats)
        return run.stats
    run.absorb(first)
    if isinstance(value, int) and value == TORCH_LEGACY_MAGIC:
        run.stats.legacy_torch = True
        for index in range(1, TORCH_LEGACY_PICKLES):
            machine = run.machine(source)
            try:
                machine.run()
            except ScanAbort as error:
                run.absorb(machine)
                result.fail(f"{where}legacy torch pickle {index + 1} does not parse: {error}")
                _record(result, run.stats)
                return run.stats
            run.absorb(machine)
        _record(result, run.stats)
        return run.stats  # the rest is raw tensor storage
    _scan_following(source, run)
    if expect_eof:
        _check_trailing(source, run)
    _record(result, run.stats)
    return run.stats


def _scan_following(source: ByteSource, run: _Run) -> None:
    """Scan further pickles appended after the first (a loader may call ``load`` again)."""
    # a decompressed stream cannot seek, but can look one byte ahead: a second pickle after
    # the first in a .pkl.gz was never read (an adversarial review, session 13)
    while run.stats.streams < run.limits.pickle_max_stream_count and source.can_peek:
        first = source.peek_byte()
        start = source.pos
        if first == 0x80:
            # the protocol byte, looked at where the stream can seek back (elsewhere the
            # machine that parses it checks it)
            if source.seekable:
                head = source.stream.read(2)
                source.stream.seek(-len(head), 1)
                if len(head) < 2 or not 2 <= head[1] <= PICKLE_PROTOCOL_MAX:
                    return
        elif first is None or first not in PickleMachine.DISPATCH:
            # protocols 0 and 1 have no header: any opcode may start a stream ("cos\nsystem")
            return
        run.buffer = []
        machine = run.machine(source)
        try:
            machine.run()
        except ScanAbort:
            # not a pickle after all: keep only findings strong enough to matter
            kept, run.buffer = run.buffer, None
            for severity, rule, message, location in kept:
                if severity >= Severity.HIGH:
                    run.result.add(severity, rule, message, location)
            if source.seekable:
                source.stream.seek(start)
                source.pos = start
            return
        kept, run.buffer = run.buffer, None
        for severity, rule, message, location in kept:
            run.result.add(severity, rule, message, location)
        run.absorb(machine)
        run.result.add(
            Severity.LOW,
            "pickle.multiple-streams",
            "another pickle follows the first; a loader that calls load() again runs it",
            f"{run.where}offset {start}",
        )


def _check_trailing(source: ByteSource, run: _Run) -> None:
    remaining = source.remaining
    if remaining:
        run.result.add(
            Severity.LOW,
            "pickle.trailing-data",
            f"{remaining} bytes after the last pickle are not read by pickle.load",
            f"{run.where}offset {source.pos}",
        )


def _record(result: FileResult, stats: PickleStats) -> None:
    notes = result.notes.setdefault("pickle", {"streams": 0, "opcodes": 0, "globals": []})
    notes["streams"] += stats.streams
    notes["opcodes"] += stats.opcodes
    notes["protocol"] = max(notes.get("protocol", 0), stats.protocol)
    merged = sorted(set(notes["globals"]) | stats.globals)
    notes["globals"] = merged[:200]
    if stats.legacy_torch:
        notes["legacy_torch"] = True
