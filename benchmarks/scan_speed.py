"""Scan speed on ~1 GB files: GGUF, safetensors and a PyTorch zip, created in /tmp.

Each file is written, scanned in a fresh child process (so peak RSS is the scan's own),
then deleted. The scan includes the streaming sha256 of the whole file; for the PyTorch
zip it also includes the CRC-32 of every entry. A plain sha256 of the same file is timed
as the floor. The file was just written, so it is read from the page cache: this measures
the scanner, not the disk.

    PYTHONPATH=src python benchmarks/scan_speed.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from allegiance.artifacts.testcorpus import benign_state_dict_pickle, qwen_like_template

CHUNK = 4 * 1024 * 1024
SRC = str(Path(__file__).resolve().parents[1] / "src")
CHILD = """
import json, resource, sys, time, hashlib
from pathlib import Path
from typing import IO
from allegiance.artifacts import scan_paths
path = Path(sys.argv[1])
start = time.perf_counter()
if sys.argv[2] == "hash":
    h = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
    findings, status = 0, "hash-only"
else:
    report = scan_paths([path])
    result = report.files[0]
    findings, status = len([f for f in result.findings if f.severity >= 2]), result.status
elapsed = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "rss_mb": rss, "findings": findings, "status": status}))
"""


def _fill(f: IO[bytes], total: int) -> None:
    block = bytes(range(256)) * (CHUNK // 256)
    left = total
    while left > 0:
        n = min(left, CHUNK)
        f.write(block[:n])
        left -= n


def write_gguf(path: Path, size: int) -> None:
    """GGUF v3 with a real chat template, a 150k-entry token array and F32 tensors."""

    def gstr(s: str) -> bytes:
        raw = s.encode()
        return struct.pack("<Q", len(raw)) + raw

    per_tensor = 4 * 1024 * 1024
    count = max(1, size // per_tensor)
    meta = [
        ("general.architecture", 8, gstr("qwen2")),
        ("general.basename", 8, gstr("Qwen2.5")),
        ("tokenizer.chat_template", 8, gstr(qwen_like_template())),
    ]
    tokens = b"".join(gstr(f"tok{i}") for i in range(150_000))
    head = bytearray(b"GGUF" + struct.pack("<IQQ", 3, count, len(meta) + 1))
    for key, vtype, value in meta:
        head += gstr(key) + struct.pack("<I", vtype) + value
    head += gstr("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 150_000) + tokens
    for i in range(count):
        head += gstr(f"blk.{i}.weight") + struct.pack(
            "<IQIQ", 1, per_tensor // 4, 0, i * per_tensor
        )
    head += b"\x00" * (-len(head) % 32)
    with path.open("wb") as f:
        f.write(head)
        _fill(f, count * per_tensor)


def write_safetensors(path: Path, size: int) -> None:
    per_tensor = 4 * 1024 * 1024
    count = max(1, size // per_tensor)
    header = {
        f"layer.{i}.weight": {
            "dtype": "F32",
            "shape": [per_tensor // 4],
            "data_offsets": [i * per_tensor, (i + 1) * per_tensor],
        }
        for i in range(count)
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        _fill(f, count * per_tensor)


def write_torch_zip(path: Path, size: int) -> None:
    per_entry = 64 * 1024 * 1024
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", benign_state_dict_pickle())
        zf.writestr("archive/version", b"3\n")
        for i in range(max(1, size // per_entry)):
            with zf.open(f"archive/data/{i}", "w", force_zip64=True) as entry:
                _fill(entry, per_entry)


def run_child(path: Path, mode: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    writers: dict[str, tuple[str, Callable[[Path, int], None]]] = {
        "GGUF": (".gguf", write_gguf),
        "safetensors": (".safetensors", write_safetensors),
        "PyTorch zip (stored)": (".pt", write_torch_zip),
    }
    rows = []
    for label, (suffix, writer) in writers.items():
        fd, name = tempfile.mkstemp(prefix="allegiance-speed-", suffix=suffix, dir="/tmp")
        os.close(fd)
        path = Path(name)
        try:
            writer(path, size)
            mb = path.stat().st_size / 1e6
            floor = run_child(path, "hash")
            scan = run_child(path, "scan")
            rows.append((label, mb, scan, floor))
        finally:
            path.unlink(missing_ok=True)
    print(f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ")
    print(
        f"Machine: {platform.system()} {platform.release()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()} (page cache warm)\n"
    )
    print(
        "| file | size (MB) | scan incl. sha256 (s) | MB/s | sha256 alone (s) "
        "| peak RSS (MB) | findings ≥ medium | status |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, mb, scan, floor in rows:
        print(
            f"| {label} | {mb:.0f} | {scan['seconds']:.2f} | {mb / scan['seconds']:.0f} "
            f"| {floor['seconds']:.2f} | {scan['rss_mb']:.0f} | {scan['findings']:.0f} "
            f"| {scan['status']} |"
        )


if __name__ == "__main__":
    main()
