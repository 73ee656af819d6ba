"""NumPy ``.npy`` files: a small literal header, then raw data or, for object arrays, a pickle.

``numpy.load(..., allow_pickle=True)`` unpickles object arrays, so those are scanned as
pickles. The header is a Python literal read with :func:`ast.literal_eval`, which builds
only literals and never runs code; we still cap its size first.
"""

from __future__ import annotations

import ast
import re
import struct
from typing import Any

from allegiance.artifacts.bytesource import ByteSource
from allegiance.artifacts.findings import FileResult, Severity
from allegiance.artifacts.limits import DEFAULT_LIMITS, Limits, ScanAbort
from allegiance.artifacts.pickle_scan import scan_pickle_stream

MAGIC = b"\x93NUMPY"
MAX_HEADER = 1024 * 1024


# dtype strings that hold plain values (numbers, booleans, bytes, text, void, dates)
PLAIN_DTYPE = re.compile(
    r"[<>|=]?(?:[?bBhHiIlLqQpPefdgFDGSaUVc]\d*|[biufcSaUV]\d+|[mM]8(?:\[\w+\])?"
    r"|(?:bool|int|uint|float|complex|bytes|str|void)\d*|(?:datetime|timedelta)64(?:\[\w+\])?)"
)


def _has_object(descr: Any, depth: int = 0) -> bool:
    if depth > 32:
        return True
    if isinstance(descr, str):
        # fail closed: numpy also reads 'object', 'object_' and other spellings as an object
        # dtype (np.load then unpickles the data), so only codes known to hold plain values
        # are trusted
        return not PLAIN_DTYPE.fullmatch(descr)
    if isinstance(descr, (list, tuple)):
        return any(_has_object(d, depth + 1) for d in descr)
    return True  # anything else is not a dtype numpy would write


def _itemsize(descr: Any) -> int | None:
    if isinstance(descr, str):
        code = descr.lstrip("<>|=")
        if code[:1] in "biufcV" and code[1:].isdigit():
            return int(code[1:])
        if code[:1] == "U" and code[1:].isdigit():
            return 4 * int(code[1:])
        if code[:1] == "S" and code[1:].isdigit():
            return int(code[1:])
        if code == "?":
            return 1
    return None


def scan_npy_stream(
    source: ByteSource, result: FileResult, where: str = "", limits: Limits = DEFAULT_LIMITS
) -> None:
    """Check the header and scan an object array's pickle."""
    try:
        magic = source.read(8, "npy magic")
        if magic[:6] != MAGIC:
            raise ScanAbort("not an npy file")
        major = magic[6]
        if major == 1:
            hlen = struct.unpack("<H", source.read(2, "npy header length"))[0]
        elif major in (2, 3):
            hlen = struct.unpack("<I", source.read(4, "npy header length"))[0]
        else:
            raise ScanAbort(f"unknown npy version {major}")
        if hlen > MAX_HEADER:
            raise ScanAbort(f"npy header of {hlen} bytes is over the {MAX_HEADER} limit")
        text = source.read(hlen, "npy header").decode("utf-8" if major == 3 else "latin-1")
        try:
            header = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            raise ScanAbort("npy header is not a Python literal") from None
        if not isinstance(header, dict) or not {"descr", "shape"} <= header.keys():
            raise ScanAbort("npy header lacks descr/shape")
    except ScanAbort as error:
        result.fail(f"{where}{error}")
        return
    descr, shape = header["descr"], header["shape"]
    result.notes.setdefault("npy", []).append({"where": where, "descr": str(descr)[:200]})
    if _has_object(descr):
        result.add(
            Severity.LOW,
            "npy.object-array",
            "object array: numpy.load(allow_pickle=True) unpickles it (pickle scanned)",
            f"{where}header",
        )
        scan_pickle_stream(source, result, f"{where}object pickle: ", limits)
        return
    size = _itemsize(descr)
    if (
        size is not None
        and isinstance(shape, tuple)
        and all(isinstance(d, int) and d >= 0 for d in shape)
        and source.remaining is not None
    ):
        count = 1
        for d in shape:
            count *= d
        if count * size != source.remaining:
            result.add(
                Severity.LOW,
                "npy.size-mismatch",
                f"header promises {count * size} data bytes, file has {source.remaining}",
                f"{where}header",
            )
