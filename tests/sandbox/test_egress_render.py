"""The table people read after ``allegiance egress``."""

from __future__ import annotations

from allegiance.sandbox.attempts import Attempt
from allegiance.sandbox.dns import DnsQuestion
from allegiance.sandbox.egress import EgressResult
from allegiance.sandbox.render import render_table


def attempt(
    destination: str,
    port: int,
    *,
    outside: bool,
    pid: int = 5,
    result: str = "ok",
    kind: str = "connect",
    questions: tuple[DnsQuestion, ...] = (),
) -> Attempt:
    return Attempt(
        kind=kind,
        family="ipv4",
        protocol="tcp",
        address=destination,
        port=port,
        syscall="connect",
        result=result,
        pid=pid,
        program="/usr/bin/python3",
        is_loopback=not outside,
        outside=outside,
        dns_questions=questions,
    )


def result(attempts: list[Attempt], argv: list[str] | None = None) -> EgressResult:
    return EgressResult(
        argv=argv or ["python3", "x.py"],
        exit_code=0,
        attempts=attempts,
        lookup_hints=[],
        processes=[],
        method="how it was checked",
        isolation="userns",
        netns="net:[1]",
        tracer="strace 6.1",
        duration_s=0.5,
    )


def test_rows_are_grouped_with_counts_and_outside_first() -> None:
    table = render_table(
        result(
            [attempt("127.0.0.1", 8080, outside=False, pid=p) for p in (5, 5, 6)]
            + [
                attempt("192.0.2.1", 80, outside=True, result="ENETUNREACH"),
                attempt(
                    "192.0.2.53",
                    53,
                    outside=True,
                    kind="dns",
                    result="ENETUNREACH",
                    questions=(DnsQuestion("telemetry.example", "A"),),
                ),
            ]
        )
    )
    lines = table.splitlines()
    rows = [line.split() for line in lines if line.startswith(("  OUTSIDE", "  loopback"))]
    assert [row[:6] for row in rows] == [
        ["OUTSIDE", "connect", "tcp", "192.0.2.1:80", "1", "ENETUNREACH"],
        ["OUTSIDE", "dns", "tcp", "192.0.2.53:53", "1", "ENETUNREACH"],
        ["loopback", "connect", "tcp", "127.0.0.1:8080", "3", "ok"],
    ]
    assert rows[2][6:] == ["python3[5],", "python3[6]"]
    assert "↳ asked A telemetry.example" in table
    assert "Verdict: 2 attempts to reach beyond loopback (exit 1)." in table
    assert lines[-1] == "How: how it was checked."


def test_nothing_attempted_and_hostile_argv_is_escaped() -> None:
    table = render_table(result([], argv=["echo", "\x1b[31mred"]))
    assert "\x1b" not in table
    assert "No connection, send or name lookup was attempted." in table
    assert "(exit 0)" in table
    assert "did not finish successfully" not in table


def test_a_failed_command_with_nothing_attempted_says_the_check_may_be_vacuous() -> None:
    """`egress -- python nosuch.py`: nothing was attempted because nothing ran."""
    import dataclasses

    table = render_table(dataclasses.replace(result([]), exit_code=2))
    assert "Verdict: nothing beyond loopback was attempted (exit 0)." in table
    assert "Note: the command did not finish successfully" in table
