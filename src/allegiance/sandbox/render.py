"""Show an :class:`~allegiance.sandbox.egress.EgressResult` to a person, as a table.

Attempts are grouped by destination (2,000 connects to one loopback server are one row
with a count), outside destinations first. Everything that came from the traced program
(addresses, paths, DNS names, program paths) was already escaped to printable text when
it was parsed, so it cannot carry terminal control sequences here.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from allegiance.sandbox.attempts import Attempt
from allegiance.sandbox.egress import EgressResult

MAX_BY = 3


@dataclass
class _Row:
    where: str
    kind: str
    protocol: str
    destination: str
    tries: int = 0
    results: dict[str, int] = field(default_factory=dict)
    by: dict[tuple[str, int], None] = field(default_factory=dict)
    details: dict[str, None] = field(default_factory=dict)


def _printable(text: str) -> str:
    """Escape control characters (strace's own messages may quote program data)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _where(attempt: Attempt) -> str:
    if attempt.is_local_socket:
        return "local"
    return "OUTSIDE" if attempt.outside else "loopback"


def _program(path: str | None) -> str:
    return path.rsplit("/", 1)[-1] if path else "?"


def _group(attempts: Iterable[Attempt]) -> list[_Row]:
    rows: dict[tuple[str, str, str, str], _Row] = {}
    for attempt in attempts:
        key = (
            _where(attempt),
            attempt.kind,
            attempt.protocol or attempt.family,
            attempt.destination,
        )
        row = rows.setdefault(key, _Row(*key))
        row.tries += 1
        row.results[attempt.result] = row.results.get(attempt.result, 0) + 1
        row.by[(_program(attempt.program), attempt.pid)] = None
        for question in attempt.dns_questions:
            row.details[f"asked {question}"] = None
        if attempt.note:
            row.details[attempt.note] = None
    order = {"OUTSIDE": 0, "loopback": 1, "local": 2}
    return sorted(rows.values(), key=lambda r: (order[r.where], r.destination))


def _format_results(results: dict[str, int]) -> str:
    if len(results) == 1:
        return next(iter(results))
    return ", ".join(f"{name}×{count}" for name, count in results.items())


def _format_by(by: dict[tuple[str, int], None]) -> str:
    names = [f"{program}[{pid}]" for program, pid in by]
    extra = f" +{len(names) - MAX_BY}" if len(names) > MAX_BY else ""
    return ", ".join(names[:MAX_BY]) + extra


def _table(rows: list[_Row]) -> list[str]:
    header = ("WHERE", "KIND", "PROTO", "DESTINATION", "TRIES", "RESULT", "BY")
    cells = [
        (
            r.where,
            r.kind,
            r.protocol,
            r.destination,
            str(r.tries),
            _format_results(r.results),
            _format_by(r.by),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = []
    for index, values in enumerate([header, *cells]):
        parts = [v.rjust(widths[i]) if i == 4 else v.ljust(widths[i]) for i, v in enumerate(values)]
        lines.append("  " + "  ".join(parts).rstrip())
        if index > 0:
            lines.extend(f"  {'':{widths[0]}}  ↳ {detail}" for detail in rows[index - 1].details)
    return lines


def render_table(result: EgressResult) -> str:
    """The report a person reads after ``allegiance egress``."""
    outside = result.outside_attempts
    lines = [f"allegiance egress: {_printable(shlex.join(result.argv))}"]
    code = f"exited {result.exit_code}"
    if result.exit_code < 0:
        code = f"killed by signal {-result.exit_code}"
    if result.timed_out:
        code += " (timed out)"
    lines.append(f"  command {code} after {result.duration_s:.2f} s")
    lines.append("")
    if result.attempts:
        tried = len(result.attempts)
        lines.append(
            f"Destinations tried ({tried} attempt{'s' if tried != 1 else ''}, "
            f"{len(outside)} beyond loopback):"
        )
        lines.extend(_table(_group(result.attempts)))
    else:
        lines.append("No connection, send or name lookup was attempted.")
    if result.local_socket_attempts:
        lines.append(
            "  local = Unix/packet socket: not network, but a host daemon listening on "
            "a Unix socket path could act for the command."
        )
    if result.lookup_hints:
        lines.append("")
        lines.append("Name-service files opened (a sign of name lookups):")
        seen: dict[str, dict[str, None]] = {}
        for hint in result.lookup_hints:
            seen.setdefault(hint.path, {})[f"{_program(hint.program)}[{hint.pid}]"] = None
        width = max(len(path) for path in seen)
        for path, by in seen.items():
            lines.append(f"  {path:<{width}}  by {', '.join(by)}")
    for warning in result.warnings:
        lines.append(f"warning: {_printable(warning)}")
    lines.append("")
    if outside:
        plural = "s" if len(outside) != 1 else ""
        lines.append(f"Verdict: {len(outside)} attempt{plural} to reach beyond loopback (exit 1).")
    else:
        lines.append("Verdict: nothing beyond loopback was attempted (exit 0).")
        if result.exit_code != 0 or result.timed_out:
            # a command that failed at once ("No such file") attempted nothing either
            lines.append(
                "Note: the command did not finish successfully, so it may have stopped before "
                "the code that would connect; check its output above."
            )
    lines.append(f"How: {result.method}.")
    return "\n".join(lines) + "\n"
