"""File-like views used by the container scanners: a window into a file, and streaming
decompression with an output cap, so no entry or compressed file is ever held whole.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import zlib
from typing import Any, BinaryIO

from allegiance.artifacts.bytesource import CHUNK
from allegiance.artifacts.limits import ScanAbort

WBITS = {"deflate": -15, "zlib": 15, "gzip": 31}
# Formats whose readers take several streams one after another as one file: their magic.
_CONCATENATED = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}


class Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of ``f`` starting at ``start``."""

    def __init__(self, f: BinaryIO, start: int, length: int) -> None:
        self.f, self.start, self.length, self.pos = f, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.length}[whence]
        self.pos = max(0, min(self.length, base + offset))
        return self.pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.length - self.pos)
        if n <= 0:
            return 0
        self.f.seek(self.start + self.pos)
        data = self.f.read(n)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


class Inflate(io.RawIOBase):
    """Streaming decompression with a hard cap on the output size (zip bombs)."""

    def __init__(self, raw: io.RawIOBase, kind: str, cap: int) -> None:
        self.raw, self.cap, self.out = raw, cap, 0
        self.buf = b""
        self.pending = b""
        self.kind = kind
        # zip's LZMA decompressor needs the entry's properties first: made in _more
        self.dec: Any = self._decompressor()

    def _decompressor(self) -> Any:
        """A fresh decompressor for this kind (None for zip's LZMA, made from its header)."""
        if self.kind in WBITS:
            return zlib.decompressobj(WBITS[self.kind])
        if self.kind == "bz2":
            return bz2.BZ2Decompressor()
        if self.kind == "xz":
            return lzma.LZMADecompressor()
        return None

    def readable(self) -> bool:
        return True

    def _more(self) -> bool:
        """Produce at most one chunk of output; False at the end of the entry."""
        zlib_like = self.kind in WBITS
        if self.kind in _CONCATENATED and self.dec.eof and not self._next_stream():
            return False
        needs_input = (
            not self.pending
            if zlib_like
            else (self.dec is None or self.dec.needs_input) and not self.pending
        )
        if needs_input:
            chunk = self.raw.read(CHUNK)
            if not chunk:
                return False
            self.pending += chunk
        elif self.dec is not None and getattr(self.dec, "eof", False) and not self.pending:
            return False
        try:
            if self.dec is None:
                # zip's LZMA: 2-byte version, 2-byte props size, props, then raw LZMA1 data
                psize = struct.unpack("<H", self.pending[2:4])[0]
                props = self.pending[4 : 4 + psize]
                filt = lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)  # type: ignore[attr-defined]
                self.dec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt])
                self.pending = self.pending[4 + psize :]
            data = self.dec.decompress(self.pending, CHUNK)
            self.pending = self.dec.unconsumed_tail if zlib_like else b""
        except (struct.error, lzma.LZMAError, zlib.error, OSError, EOFError, ValueError) as error:
            raise ScanAbort(f"compressed entry is corrupt: {error}") from None
        self.out += len(data)
        if self.out > self.cap:
            raise ScanAbort("entry inflates beyond its declared size (zip bomb?)")
        self.buf += data
        return True

    def _next_stream(self) -> bool:
        """After a stream ends, start the next one if one follows. gzip.open, bz2.open and
        lzma.open read concatenated streams as one (skipping zero padding), so a pickle can
        continue, or a second one begin, in the next: reading only the first called a
        malicious second pickle clean (session 13). Bytes that start no stream end it, as
        the bz2 and lzma readers do (gzip.open refuses the file, so nothing loads them)."""
        magic = _CONCATENATED[self.kind]
        rest = (self.dec.unused_data + self.pending).lstrip(b"\0")
        while len(rest) < len(magic):
            chunk = self.raw.read(CHUNK)
            if not chunk:
                return False
            rest = (rest + chunk).lstrip(b"\0")
        if not rest.startswith(magic):
            return False
        self.pending = rest
        self.dec = self._decompressor()
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.buf:
            if not self._more():
                return 0
        n = min(len(buffer), len(self.buf))
        buffer[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n
