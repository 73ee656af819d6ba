"""safetensors: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.

The format cannot run code, but a hostile header can still exhaust memory (a 2**63 length,
deep nesting), point tensors outside the file or at each other (readers that trust offsets
read the wrong bytes), or carry URLs and code in ``__metadata__``. Each is checked.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from allegiance.artifacts import textchecks
from allegiance.artifacts.findings import FileResult, Severity
from allegiance.artifacts.layout import covered_end, sweep
from allegiance.artifacts.limits import DEFAULT_LIMITS, Limits

DTYPE_SIZES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "C64": 8,
}
# Sub-byte dtypes: bits per element.
DTYPE_BITS = {"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}


def looks_like_safetensors(head: bytes, size: int) -> bool:
    """8-byte length that fits the file, followed by ``{``."""
    if len(head) < 9:
        return False
    n = struct.unpack("<Q", head[:8])[0]
    return 2 <= n <= size - 8 and head[8:9] in (b"{", b" ")


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (a recursive walk could itself hit the recursion limit)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, d = todo.pop()
        deepest = max(deepest, d)
        if isinstance(item, dict):
            todo.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, d + 1) for v in item)
    return deepest


def scan_safetensors(
    f: BinaryIO, size: int, result: FileResult, limits: Limits = DEFAULT_LIMITS
) -> None:
    """Validate header limits, tensor layout and metadata."""
    result.format = "safetensors"
    raw = f.read(8)
    if len(raw) < 8:
        result.fail("file is shorter than the 8-byte header length")
        return
    hlen = struct.unpack("<Q", raw)[0]
    if hlen > limits.safetensors_max_header:
        result.fail(f"header length {hlen} exceeds the {limits.safetensors_max_header} limit")
        return
    if hlen > size - 8:
        result.fail(f"header length {hlen} exceeds the file ({size - 8} bytes after it)")
        return
    text = f.read(hlen)
    try:
        header = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # also an integer of 5,000 digits
        result.fail(f"header is not valid UTF-8 JSON: {str(error)[:120]}")
        return
    if not isinstance(header, dict):
        result.fail("header is not a JSON object")
        return
    if _depth(header) > limits.json_max_depth:
        result.fail(f"header nests deeper than {limits.json_max_depth}")
        return
    data_len = size - 8 - hlen
    _check_metadata(header.get("__metadata__"), result)
    spans = _check_tensors(header, data_len, result)
    result.notes["safetensors"] = {"tensors": len(spans), "header_bytes": hlen}
    _check_layout(spans, data_len, result)


def _check_metadata(meta: Any, result: FileResult) -> None:
    if meta is None:
        return
    if not isinstance(meta, dict):
        result.add(
            Severity.MEDIUM,
            "safetensors.metadata-type",
            "__metadata__ is not an object of strings",
            "__metadata__",
        )
        return
    for key, value in meta.items():
        where = f"__metadata__.{key}"
        if not isinstance(value, str):
            result.add(
                Severity.MEDIUM,
                "safetensors.metadata-type",
                f"metadata value is {type(value).__name__}, not a string",
                where,
            )
            value = json.dumps(value)
        for url in textchecks.urls(value)[:3]:
            result.add(
                Severity.MEDIUM,
                "safetensors.metadata-url",
                f"metadata carries a URL: {url[:120]}",
                where,
            )
        for code in textchecks.code_like(value)[:3]:
            result.add(
                Severity.HIGH,
                "safetensors.metadata-code",
                f"metadata carries code-like text: {code!r}",
                where,
            )
        for name in textchecks.invisible_chars(value)[:3]:
            result.add(
                Severity.MEDIUM,
                "safetensors.metadata-hidden",
                f"metadata contains invisible character {name}",
                where,
            )
        for blob in textchecks.base64_blobs(value)[:1]:
            result.add(
                Severity.LOW,
                "safetensors.metadata-blob",
                f"metadata holds a base64 blob ({blob[:30]}...)",
                where,
            )


def _check_tensors(
    header: dict[str, Any], data_len: int, result: FileResult
) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        where = f"tensor {name[:100]}"
        if not isinstance(info, dict):
            result.add(Severity.MEDIUM, "safetensors.bad-entry", "entry is not an object", where)
            continue
        extra = set(info) - {"dtype", "shape", "data_offsets"}
        if extra:
            result.add(
                Severity.LOW, "safetensors.bad-entry", f"unexpected keys {sorted(extra)[:5]}", where
            )
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in DTYPE_SIZES and dtype not in DTYPE_BITS:
            result.add(Severity.MEDIUM, "safetensors.bad-dtype", f"unknown dtype {dtype!r}", where)
            continue
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            result.add(Severity.MEDIUM, "safetensors.bad-shape", f"invalid shape {shape!r}", where)
            continue
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            result.add(
                Severity.MEDIUM,
                "safetensors.bad-offsets",
                f"invalid data_offsets {offsets!r}",
                where,
            )
            continue
        begin, end = offsets
        if begin < 0 or end < begin:
            result.add(
                Severity.MEDIUM,
                "safetensors.bad-offsets",
                f"data_offsets {offsets} are reversed or negative",
                where,
            )
            continue
        if end > data_len:
            result.add(
                Severity.HIGH,
                "safetensors.out-of-range",
                f"tensor ends at {end}, past the {data_len}-byte data section",
                where,
            )
            continue
        count = 1
        for d in shape:
            count *= d
        expected = (
            count * DTYPE_SIZES[dtype]
            if dtype in DTYPE_SIZES
            else (count * DTYPE_BITS[dtype] + 7) // 8
        )
        if expected != end - begin:
            result.add(
                Severity.MEDIUM,
                "safetensors.size-mismatch",
                f"{dtype}{shape} needs {expected} bytes but offsets span {end - begin}",
                where,
            )
        spans.append((begin, end, name))
    return spans


def _check_layout(spans: list[tuple[int, int, str]], data_len: int, result: FileResult) -> None:
    for begin, _end, name, covered, previous in sweep(spans):
        if begin < covered:
            result.add(
                Severity.HIGH,
                "safetensors.overlap",
                f"tensor overlaps {previous[:100]} (bytes {begin}..{covered})",
                f"tensor {name[:100]}",
            )
        elif begin > covered:
            result.add(
                Severity.LOW,
                "safetensors.gap",
                f"{begin - covered} unreferenced bytes before this tensor",
                f"tensor {name[:100]}",
            )
    cursor = covered_end(spans)
    if data_len > cursor:
        result.add(
            Severity.LOW,
            "safetensors.trailing-data",
            f"{data_len - cursor} bytes after the last tensor are not part of any tensor",
            f"offset {cursor}",
        )
