"""Hard limits for every parser.

Model files come from strangers. Each count or length a file declares is checked against
these caps *and* against the bytes actually left in the file before anything is allocated,
so a 100-byte file that claims 2**63 metadata entries is refused in microseconds instead of
exhausting memory.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Caps shared by all scanners; the defaults scan real multi-GB models comfortably."""

    # pickle
    pickle_max_opcodes: int = 20_000_000
    pickle_max_seconds: float = 60.0
    pickle_max_stack: int = 1_000_000
    pickle_max_marks: int = 100_000
    pickle_max_memo: int = 1_000_000
    pickle_max_line: int = 65_536
    pickle_keep_str: int = 65_536  # longer strings are kept as a head + length only
    pickle_keep_bytes: int = 16 * 1024 * 1024  # longer byte strings are skipped, not kept
    pickle_keep_bytes_total: int = 128 * 1024 * 1024
    pickle_container_items: int = 10_000  # items remembered per list/dict/set
    pickle_max_nested_depth: int = 4
    pickle_max_stream_count: int = 16
    # zip
    zip_max_entries: int = 100_000
    zip_max_ratio: int = 200  # decompressed/compressed beyond which we stop inflating
    # safetensors
    safetensors_max_header: int = 100 * 1024 * 1024
    json_max_depth: int = 64
    # gguf
    gguf_max_kv: int = 1_000_000
    gguf_max_tensors: int = 1_000_000
    gguf_max_string: int = 64 * 1024 * 1024
    gguf_max_array: int = 64 * 1024 * 1024
    gguf_max_dims: int = 8
    # templates and code
    template_max_chars: int = 64 * 1024 * 1024
    python_max_bytes: int = 16 * 1024 * 1024
    json_file_max_bytes: int = 64 * 1024 * 1024


DEFAULT_LIMITS = Limits()


class ScanAbort(Exception):
    """Raised inside a parser when input is truncated, garbled or over a limit.

    Never escapes :func:`allegiance.artifacts.scan_paths`: it becomes the file's
    "could not scan" reason.
    """
