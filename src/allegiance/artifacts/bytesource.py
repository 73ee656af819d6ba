"""A bounded reader over a binary stream.

Every parser reads through this so that a declared length is checked against the bytes
that remain *before* anything is allocated, and so that large payloads are skipped in
fixed-size chunks instead of being held in memory.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from allegiance.artifacts.limits import ScanAbort

CHUNK = 1024 * 1024


class ByteSource:
    """Reads from ``stream`` starting at its current position, tracking the offset."""

    def __init__(self, stream: BinaryIO, size: int | None = None, base: int = 0) -> None:
        self.stream = stream
        self.pos = base
        self.size = size  # total size of the stream if known (absolute end offset)
        try:
            self.seekable = bool(stream.seekable())
        except (OSError, ValueError, AttributeError):
            self.seekable = False
        if self.size is None and self.seekable:
            here = stream.tell()
            self.size = stream.seek(0, os.SEEK_END)
            stream.seek(here)
            self.pos = here

    @classmethod
    def from_bytes(cls, data: bytes) -> ByteSource:
        return cls(io.BytesIO(data), size=len(data))

    @property
    def remaining(self) -> int | None:
        return None if self.size is None else max(0, self.size - self.pos)

    def _check(self, n: int, what: str) -> None:
        if n < 0:
            raise ScanAbort(f"negative length {n} for {what} at offset {self.pos}")
        rem = self.remaining
        if rem is not None and n > rem:
            raise ScanAbort(
                f"truncated: {what} at offset {self.pos} declares {n} bytes, {rem} remain"
            )

    def read(self, n: int, what: str = "data") -> bytes:
        """Read exactly ``n`` bytes or raise :class:`ScanAbort` (truncated input)."""
        self._check(n, what)
        if n <= CHUNK:
            data = self.stream.read(n)
        else:
            parts = []
            left = n
            while left:
                part = self.stream.read(min(CHUNK, left))
                if not part:
                    break
                parts.append(part)
                left -= len(part)
            data = b"".join(parts)
        if len(data) != n:
            raise ScanAbort(f"truncated: wanted {n} bytes for {what} at offset {self.pos}")
        self.pos += n
        return data

    @property
    def can_peek(self) -> bool:
        """Whether :meth:`peek_byte` can look ahead: a seekable stream, or a buffered one (a
        decompressed stream, which cannot seek)."""
        return self.seekable or hasattr(self.stream, "peek")

    def peek_byte(self) -> int | None:
        """The next byte without consuming it (None at the end, or if it cannot look)."""
        if not self.seekable:
            peek = getattr(self.stream, "peek", None)
            if peek is None:
                return None
            ahead = peek(1)  # a buffered reader reads the raw stream when its buffer is empty
            return ahead[0] if ahead else None
        b = self.stream.read(1)
        if not b:
            return None
        self.stream.seek(-1, os.SEEK_CUR)
        return b[0]

    def skip(self, n: int, what: str = "data") -> bytes:
        """Skip ``n`` bytes without keeping them; returns the first 64 for sniffing."""
        self._check(n, what)
        head = b""
        if self.seekable:
            head = self.stream.read(min(n, 64))
            self.stream.seek(n - len(head), os.SEEK_CUR)
            if len(head) < min(n, 64):
                raise ScanAbort(f"truncated: {what} at offset {self.pos}")
            self.pos += n
            return head
        left = n
        while left:
            part = self.stream.read(min(CHUNK, left))
            if not part:
                raise ScanAbort(f"truncated: {what} at offset {self.pos}")
            if len(head) < 64:
                head += part[: 64 - len(head)]
            left -= len(part)
            self.pos += len(part)
        return head

    def readline(self, limit: int, what: str = "line") -> bytes:
        """Read up to and excluding ``\\n``; refuse lines longer than ``limit``."""
        out = bytearray()
        while True:
            chunk = self.stream.read(1)
            if not chunk:
                raise ScanAbort(f"truncated: {what} at offset {self.pos} has no newline")
            self.pos += 1
            if chunk == b"\n":
                return bytes(out)
            out += chunk
            if len(out) > limit:
                raise ScanAbort(f"{what} at offset {self.pos} longer than {limit} bytes")
