"""Decoding the question of a DNS query a traced program tried to send."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from allegiance.sandbox.dns import DnsQuestion, parse_query


def query(*questions: tuple[str, int], flags: int = 0x0100) -> bytes:
    """A DNS query message built per RFC 1035 §4.1."""
    body = b""
    for name, qtype in questions:
        labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
        body += labels + b"\x00" + struct.pack(">HH", qtype, 1)
    return struct.pack(">HHHHHH", 0x1234, flags, len(questions), 0, 0, 0) + body


def test_a_and_aaaa_questions() -> None:
    data = query(("telemetry.example", 1), ("cdn.example.org", 28))
    assert parse_query(data) == [
        DnsQuestion("telemetry.example", "A"),
        DnsQuestion("cdn.example.org", "AAAA"),
    ]


def test_tcp_length_prefix() -> None:
    data = query(("svc.example", 65))
    assert parse_query(struct.pack(">H", len(data)) + data, tcp=True) == [
        DnsQuestion("svc.example", "HTTPS")
    ]


def test_responses_and_garbage_are_not_queries() -> None:
    assert parse_query(query(("a.example", 1), flags=0x8180)) is None  # QR bit: a response
    assert parse_query(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") is None
    assert parse_query(b"") is None
    assert parse_query(query(("a.example", 1))[:15]) is None  # truncated inside the name


def test_control_characters_in_names_are_escaped() -> None:
    data = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x04a\x1b[m\x00\x00\x01\x00\x01"
    (question,) = parse_query(data) or []
    assert question.name == "a\\027[m"


@given(st.binary(max_size=600), st.booleans())
def test_never_raises_on_arbitrary_bytes(data: bytes, tcp: bool) -> None:
    result = parse_query(data, tcp=tcp)
    assert result is None or all(isinstance(q, DnsQuestion) for q in result)
