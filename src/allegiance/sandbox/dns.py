"""Read the question out of a DNS query a traced program tried to send.

Knowing *which name* a program tried to resolve ("telemetry.vendor.example") says more
than knowing it talked to a resolver, so when strace shows the bytes of a message sent
to port 53 we decode its question section (RFC 1035 §4.1). The bytes come from the
program under test and are untrusted: the decoder is bounded, never follows
compression pointers (a query has none), and returns None for anything that is not a
well-formed query rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

QTYPES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    64: "SVCB",
    65: "HTTPS",
    255: "ANY",
}
_HEADER = 12
_MAX_QUESTIONS = 8


@dataclass(frozen=True)
class DnsQuestion:
    """One question: the name asked about and the record type (``A``, ``AAAA``, ...)."""

    name: str
    qtype: str

    def __str__(self) -> str:
        return f"{self.qtype} {self.name}"


def _read_name(data: bytes, offset: int) -> tuple[str, int] | None:
    labels: list[str] = []
    while offset < len(data):
        length = data[offset]
        offset += 1
        if length == 0:
            return ".".join(labels) or ".", offset
        if length > 63 or offset + length > len(data):  # pointer or truncated
            return None
        label = data[offset : offset + length]
        # Escape anything outside printable ASCII so a hostile name cannot carry
        # terminal control sequences into our report.
        labels.append("".join(chr(b) if 0x21 <= b < 0x7F else f"\\{b:03d}" for b in label))
        offset += length
    return None


def parse_query(data: bytes, *, tcp: bool = False) -> list[DnsQuestion] | None:
    """Questions in a DNS query message, or None if ``data`` is not one.

    ``tcp=True`` expects the two-byte length prefix DNS uses over TCP.
    """
    if tcp:
        if len(data) < 2:
            return None
        data = data[2:]
    if len(data) < _HEADER:
        return None
    flags = int.from_bytes(data[2:4], "big")
    if flags & 0x8000:  # QR bit set: a response, not a query
        return None
    count = int.from_bytes(data[4:6], "big")
    if not 1 <= count <= _MAX_QUESTIONS:
        return None
    questions: list[DnsQuestion] = []
    offset = _HEADER
    for _ in range(count):
        read = _read_name(data, offset)
        if read is None or read[1] + 4 > len(data):
            return questions or None
        name, offset = read
        qtype = int.from_bytes(data[offset : offset + 2], "big")
        offset += 4
        questions.append(DnsQuestion(name, QTYPES.get(qtype, f"TYPE{qtype}")))
    return questions
