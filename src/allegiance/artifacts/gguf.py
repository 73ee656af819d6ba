"""GGUF (llama.cpp) header, metadata and tensor table, parsed incrementally with hard caps.

Only the header region is read; tensor data is never loaded. Every count and length is
checked against :class:`Limits` and against the bytes left in the file before it is used,
so hostile counts fail fast with a clear reason instead of allocating.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from allegiance.artifacts import textchecks
from allegiance.artifacts.bytesource import ByteSource
from allegiance.artifacts.findings import FileResult, Severity
from allegiance.artifacts.layout import covered_end, sweep
from allegiance.artifacts.limits import DEFAULT_LIMITS, Limits, ScanAbort

MAGIC = b"GGUF"
# value type -> (struct format, size) for fixed-size scalars
SCALARS = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
STRING, ARRAY = 8, 9
# ggml tensor type -> (elements per block, bytes per block)
GGML_TYPES = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
}
TEMPLATE_KEY = "tokenizer.chat_template"
# string keys whose text is a URL or licence by design: URLs there are expected
URL_KEYS = (
    "general.url",
    "general.source",
    "general.repo_url",
    "general.license",
    "general.base_model",
    "general.doi",
    "general.uuid",
    "general.tags",
    "general.datasets",
)


@dataclass
class GGUFInfo:
    version: int = 0
    tensor_count: int = 0
    kv_count: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)  # scalars and strings
    arrays: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (type, count)
    data_start: int = 0
    alignment: int = 32


class _Reader:
    def __init__(self, source: ByteSource, version: int, limits: Limits) -> None:
        self.src, self.version, self.limits = source, version, limits

    def uint(self, what: str) -> int:
        if self.version == 1:
            return int(struct.unpack("<I", self.src.read(4, what))[0])
        return int(struct.unpack("<Q", self.src.read(8, what))[0])

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.src.read(4, what))[0])

    def string(self, what: str, keep: bool = True) -> str:
        n = self.uint(f"{what} length")
        if n > self.limits.gguf_max_string:
            raise ScanAbort(f"{what} of {n} bytes exceeds the {self.limits.gguf_max_string} limit")
        if not keep:
            self.src.skip(n, what)
            return ""
        return self.src.read(n, what).decode("utf-8", "replace")

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype in SCALARS:
            fmt, size = SCALARS[vtype]
            return struct.unpack(fmt, self.src.read(size, what))[0]
        if vtype == STRING:
            return self.string(what)
        if vtype == ARRAY:
            return self.array(what, depth)
        raise ScanAbort(f"{what}: unknown value type {vtype}")

    def array(self, what: str, depth: int) -> tuple[int, int]:
        if depth > 2:
            raise ScanAbort(f"{what}: arrays nested too deeply")
        etype = self.u32(f"{what} element type")
        count = self.uint(f"{what} count")
        if count > self.limits.gguf_max_array:
            raise ScanAbort(
                f"{what}: array of {count} exceeds the {self.limits.gguf_max_array} limit"
            )
        remaining = self.src.remaining or 0
        if etype in SCALARS:
            size = SCALARS[etype][1] * count
            if size > remaining:
                raise ScanAbort(f"{what}: array of {count} items runs past the end of the file")
            self.src.skip(size, what)
        elif etype == STRING:
            min_size = 4 if self.version == 1 else 8
            if count * min_size > remaining:
                raise ScanAbort(f"{what}: array of {count} strings runs past the end of the file")
            for _ in range(count):
                self.string(what, keep=False)
        elif etype == ARRAY:
            if count * 12 > remaining:
                raise ScanAbort(f"{what}: array of {count} arrays runs past the end of the file")
            for _ in range(count):
                self.array(what, depth + 1)
        else:
            raise ScanAbort(f"{what}: unknown array element type {etype}")
        return (etype, count)


def parse_gguf(
    f: BinaryIO, size: int, limits: Limits = DEFAULT_LIMITS
) -> tuple[GGUFInfo, list[tuple[str, int, int, int]]]:
    """Parse header, metadata and tensor table; return info and (name, type, nelems, offset)."""
    src = ByteSource(f, size=size)
    if src.read(4, "magic") != MAGIC:
        raise ScanAbort("not a GGUF file (bad magic)")
    info = GGUFInfo()
    info.version = int(struct.unpack("<I", src.read(4, "version"))[0])
    if info.version not in (1, 2, 3):
        raise ScanAbort(f"unsupported GGUF version {info.version}")
    reader = _Reader(src, info.version, limits)
    info.tensor_count = reader.uint("tensor count")
    info.kv_count = reader.uint("metadata count")
    if info.kv_count > limits.gguf_max_kv or info.kv_count * 13 > (src.remaining or 0):
        raise ScanAbort(f"metadata count {info.kv_count} is impossible for a {size}-byte file")
    if info.tensor_count > limits.gguf_max_tensors or info.tensor_count * 24 > (src.remaining or 0):
        raise ScanAbort(f"tensor count {info.tensor_count} is impossible for a {size}-byte file")
    for index in range(info.kv_count):
        key = reader.string(f"metadata key #{index}")
        vtype = reader.u32(f"type of {key[:80]!r}")
        value = reader.value(vtype, f"value of {key[:80]!r}")
        if vtype == ARRAY:
            info.arrays[key] = value
        else:
            info.metadata[key] = value
    alignment = info.metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise ScanAbort(f"general.alignment {alignment!r} is not a power of two")
    info.alignment = alignment
    tensors = []
    for index in range(info.tensor_count):
        name = reader.string(f"tensor #{index} name")
        ndims = reader.u32(f"tensor {name[:80]!r} dimension count")
        if ndims > limits.gguf_max_dims:
            raise ScanAbort(
                f"tensor {name[:80]!r} has {ndims} dimensions (limit {limits.gguf_max_dims})"
            )
        nelems = 1
        for _ in range(ndims):
            nelems *= int(struct.unpack("<Q", src.read(8, "tensor dimension"))[0])
        ttype = reader.u32(f"tensor {name[:80]!r} type")
        offset = int(struct.unpack("<Q", src.read(8, "tensor offset"))[0])
        tensors.append((name, ttype, nelems, offset))
    info.data_start = (src.pos + alignment - 1) // alignment * alignment
    return info, tensors


def scan_gguf(
    f: BinaryIO, size: int, result: FileResult, limits: Limits = DEFAULT_LIMITS
) -> GGUFInfo | None:
    """Scan a GGUF file: structure, tensor layout, metadata text and chat templates."""
    from allegiance.artifacts.template import analyse_template, family_hint

    result.format = "gguf"
    try:
        info, tensors = parse_gguf(f, size, limits)
    except ScanAbort as error:
        result.fail(str(error))
        return None
    _check_tensors(info, tensors, size, result)
    result.notes["gguf"] = {
        "version": info.version,
        "tensors": info.tensor_count,
        "metadata_keys": info.kv_count,
        "architecture": info.metadata.get("general.architecture"),
        "name": info.metadata.get("general.name"),
    }
    family = family_hint(
        " ".join(
            str(info.metadata.get(k, ""))
            for k in (
                "general.basename",
                "general.name",
                "general.architecture",
                "general.size_label",
                "general.finetune",
            )
        )
    )
    for key, value in info.metadata.items():
        if not isinstance(value, str):
            continue
        if key == TEMPLATE_KEY or key.startswith(TEMPLATE_KEY + "."):
            analyse_template(value, result, where=f"metadata {key}", family=family)
        else:
            _check_text(key, value, result)
    return info


def _check_text(key: str, value: str, result: FileResult) -> None:
    where = f"metadata {key}"
    for name in textchecks.invisible_chars(value)[:3]:
        result.add(Severity.MEDIUM, "gguf.metadata-hidden", f"invisible character {name}", where)
    for phrase in textchecks.hidden_instructions(value)[:3]:
        result.add(
            Severity.MEDIUM,
            "gguf.metadata-instruction",
            f"instruction-like text: {phrase!r}",
            where,
        )
    for code in textchecks.code_like(value)[:3]:
        result.add(Severity.MEDIUM, "gguf.metadata-code", f"code-like text: {code!r}", where)
    if not key.startswith(URL_KEYS):
        for url in textchecks.urls(value)[:3]:
            result.add(Severity.INFO, "gguf.metadata-url", f"URL in metadata: {url[:120]}", where)


def _check_tensors(
    info: GGUFInfo, tensors: list[tuple[str, int, int, int]], size: int, result: FileResult
) -> None:
    spans = []
    data_len = size - info.data_start
    for name, ttype, nelems, offset in tensors:
        where = f"tensor {name[:100]}"
        if offset % info.alignment:
            result.add(
                Severity.MEDIUM,
                "gguf.misaligned",
                f"offset {offset} is not a multiple of {info.alignment}",
                where,
            )
        layout = GGML_TYPES.get(ttype)
        if layout is None:
            result.add(
                Severity.LOW,
                "gguf.unknown-type",
                f"unknown ggml type {ttype}; size not checked",
                where,
            )
            continue
        block, nbytes = layout
        if nelems % block:
            result.add(
                Severity.MEDIUM,
                "gguf.bad-shape",
                f"{nelems} elements is not a multiple of the block size {block}",
                where,
            )
            continue
        end = offset + nelems // block * nbytes
        if end > data_len:
            result.add(
                Severity.HIGH,
                "gguf.out-of-range",
                f"tensor data ends at {end}, past the {data_len}-byte data section",
                where,
            )
            continue
        spans.append((offset, end, name))
    for begin, _end, name, covered, previous in sweep(spans):
        if begin < covered:
            result.add(
                Severity.HIGH,
                "gguf.overlap",
                f"tensor overlaps {previous[:100]}",
                f"tensor {name[:100]}",
            )
    cursor = covered_end(spans)
    if spans and data_len - cursor > info.alignment:
        result.add(
            Severity.LOW,
            "gguf.trailing-data",
            f"{data_len - cursor} bytes after the last tensor belong to no tensor",
            f"offset {info.data_start + cursor}",
        )
