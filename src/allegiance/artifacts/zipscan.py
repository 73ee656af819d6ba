"""Zip containers (PyTorch >= 1.6 ``.pt``/``.bin``, ``.npz``) read entry by entry.

We use :mod:`zipfile` only for the central directory and read each entry's bytes from its
local header ourselves. Why: ``zipfile`` raises on a bad CRC, and scanners built on it
gave up on such files while PyTorch's loader, which does not check CRCs, loaded the
payload. We compute the CRC ourselves and report a mismatch as a finding instead.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import BinaryIO

from allegiance.artifacts.bytesource import CHUNK, ByteSource
from allegiance.artifacts.findings import FileResult, Severity
from allegiance.artifacts.limits import DEFAULT_LIMITS, Limits, ScanAbort
from allegiance.artifacts.npy import scan_npy_stream
from allegiance.artifacts.pickle_scan import scan_pickle_stream
from allegiance.artifacts.streams import Inflate, Window

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
TORCH_DATA = re.compile(r"(^|/)data/\d+$")
SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def _entry_stream(f: BinaryIO, info: zipfile.ZipInfo, start: int, limits: Limits) -> BinaryIO:
    window = Window(f, start, info.compress_size)
    if info.compress_type == zipfile.ZIP_STORED:
        return io.BufferedReader(window, CHUNK)
    cap = min(info.file_size + CHUNK, info.compress_size * limits.zip_max_ratio + 64 * CHUNK)
    kind = {zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bz2"}.get(
        info.compress_type, "zip-lzma"
    )
    return io.BufferedReader(Inflate(window, kind, cap), CHUNK)


def _local_data_start(f: BinaryIO, info: zipfile.ZipInfo, result: FileResult) -> int:
    f.seek(info.header_offset)
    raw = f.read(LOCAL_HEADER.size)
    if len(raw) != LOCAL_HEADER.size:
        raise ScanAbort(f"zip entry {info.filename!r}: local header is truncated")
    fields = LOCAL_HEADER.unpack(raw)
    if fields[0] != b"PK\x03\x04":
        raise ScanAbort(f"zip entry {info.filename!r}: bad local header signature")
    name_len, extra_len = fields[9], fields[10]
    local_name = f.read(name_len)
    central = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
    if local_name != central:
        result.add(
            Severity.HIGH,
            "zip.name-mismatch",
            f"local header names {local_name[:80]!r} but the directory says "
            f"{info.orig_filename!r}: readers that walk local headers see another file",
            info.filename,
        )
    return info.header_offset + LOCAL_HEADER.size + name_len + extra_len


def _crc_pass(stream: BinaryIO) -> tuple[int, int, bytes]:
    crc, total, head = 0, 0, b""
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return crc, total, head
        if not head:
            head = chunk[:64]
        crc = zlib.crc32(chunk, crc)
        total += len(chunk)


def _top_prefix(names: list[str]) -> str:
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    return tops.pop() + "/" if len(tops) == 1 else ""


def iter_files(zf: zipfile.ZipFile) -> Iterator[zipfile.ZipInfo]:
    for info in zf.infolist():
        if not info.filename.endswith("/"):  # ZipInfo.is_dir() fails on an empty name
            yield info


def scan_zip(f: BinaryIO, result: FileResult, limits: Limits = DEFAULT_LIMITS) -> None:
    """Scan every entry of a zip: CRC and size checks, and every pickle or ``.npy`` inside."""
    try:
        zf = zipfile.ZipFile(f)
        infos = list(iter_files(zf))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        struct.error,
    ) as error:
        result.fail(f"zip directory does not parse: {error}")
        return
    if len(infos) > limits.zip_max_entries:
        result.fail(f"zip has {len(infos)} entries, over the limit of {limits.zip_max_entries}")
        return
    names = [i.filename for i in infos]
    for name, count in Counter(names).items():
        if count > 1:
            result.add(
                Severity.HIGH,
                "zip.duplicate-entry",
                f"{count} entries are named {name!r}: different readers pick different ones",
                name,
            )
    prefix = _top_prefix(names)
    pickles = [n for n in names if n.endswith((".pkl", ".pickle"))]
    torch_like = any(TORCH_DATA.search(n) for n in names) or any(
        n.endswith("data.pkl") for n in names
    )
    result.notes["zip"] = {"entries": len(infos), "torch": torch_like, "pickles": pickles[:50]}
    if torch_like:
        result.format = "pytorch-zip"
    # Entries that share bytes (Fifield's non-recursive zip bomb: 5,000 directory entries
    # over one 1 MB stream took ~46 minutes, each inflated up to its own cap; an adversarial
    # review, session 13) are read once: the first, in file order; the rest are reported.
    shared = _overlapping(infos, result)
    for info in infos:
        if id(info) in shared:
            continue
        try:
            _scan_entry(f, info, result, limits, prefix, torch_like)
        except ScanAbort as error:
            result.fail(f"{info.filename}: {error}")
        except (OSError, EOFError, ValueError, struct.error, NotImplementedError) as error:
            result.fail(f"{info.filename}: unreadable entry ({error})")
    if shared:
        result.fail(
            f"{len(shared)} entries share their bytes with another entry and were not read "
            "again (a zip bomb?)"
        )


def _overlapping(infos: list[zipfile.ZipInfo], result: FileResult) -> set[int]:
    """The entries (by ``id``) whose bytes begin inside an earlier entry's, in file order.
    No archiver writes them: they are how a small zip inflates to terabytes, or shows two
    readers two files. Each entry's data starts after its local header, so an entry whose
    header lies inside the span of one before it overlaps it. The first pair is a finding."""
    shared: set[int] = set()
    end, last = -1, None
    for info in sorted(infos, key=lambda i: i.header_offset):
        if last is not None and info.header_offset < end:
            if not shared:
                result.add(
                    Severity.HIGH,
                    "zip.overlapping-entries",
                    f"entries {last.filename!r} and {info.filename!r} share bytes of the "
                    "archive: a zip bomb, or one file shown to two readers as two",
                    info.filename,
                )
            shared.add(id(info))
            continue
        span = info.header_offset + LOCAL_HEADER.size + info.compress_size
        if span > end:
            end, last = span, info
    return shared


def _scan_entry(
    f: BinaryIO,
    info: zipfile.ZipInfo,
    result: FileResult,
    limits: Limits,
    prefix: str,
    torch_like: bool,
) -> None:
    name = info.filename
    if info.flag_bits & 0x1:
        result.add(Severity.MEDIUM, "zip.encrypted", "encrypted entry cannot be scanned", name)
        return
    if info.compress_type not in SUPPORTED:
        result.fail(f"{name}: unsupported compression method {info.compress_type}")
        return
    start = _local_data_start(f, info, result)
    crc, total, head = _crc_pass(_entry_stream(f, info, start, limits))
    if total != info.file_size:
        result.add(
            Severity.MEDIUM,
            "zip.size-mismatch",
            f"entry holds {total} bytes but the directory declares {info.file_size}",
            name,
        )
    if crc != info.CRC:
        result.add(
            Severity.HIGH,
            "zip.crc-mismatch",
            f"CRC-32 is {crc:08x} but the directory says {info.CRC:08x}: Python's zipfile "
            "refuses this entry while PyTorch's loader does not check, a known way to hide "
            "a payload from scanners",
            name,
        )
    is_pickle_name = name.endswith((".pkl", ".pickle"))
    looks_pickle = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
    if head.startswith(b"\x93NUMPY"):
        scan_npy_stream(
            ByteSource(_entry_stream(f, info, start, limits), size=total),
            result,
            f"{name}: ",
            limits,
        )
        return
    if not (is_pickle_name or looks_pickle):
        return
    if is_pickle_name and torch_like and name != f"{prefix}data.pkl":
        result.add(
            Severity.MEDIUM,
            "zip.pickle-odd-path",
            f"pickle at an unusual path in a PyTorch archive (expected {prefix}data.pkl)",
            name,
        )
    source = ByteSource(_entry_stream(f, info, start, limits), size=total)
    if is_pickle_name:
        scan_pickle_stream(source, result, f"{name}: ", limits)
        return
    # bytes that start like a pickle but are not named as one: tensor data often does by chance
    probe = FileResult(result.path)
    scan_pickle_stream(source, probe, f"{name}: ", limits)
    if probe.status == "scanned":
        result.add(
            Severity.MEDIUM if not TORCH_DATA.search(name) else Severity.HIGH,
            "zip.hidden-pickle",
            "entry is a complete pickle although its name does not say so",
            name,
        )
        result.findings.extend(f for f in probe.findings if f.rule != "pickle.trailing-data")
    else:
        result.findings.extend(f for f in probe.findings if f.severity >= Severity.HIGH)
