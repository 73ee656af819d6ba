"""Hostile input: truncated, bit-flipped and random files never crash, hang or explode.

Each parser is fed mutated versions of valid samples. The property: the scan returns a
result, its status is "scanned" or "could not scan" (never an internal error), it finishes
quickly, and a garbled file is never called clean without being scanned.
"""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allegiance.artifacts import Limits, Status, scan_file
from allegiance.artifacts import testcorpus as tc

SEEDS = {
    "pickle.pkl": tc.benign_state_dict_pickle(),
    "evil.pkl": tc.memo_stack_global(),
    "model.pt": tc.torch_zip(tc.benign_state_dict_pickle()),
    "legacy.bin": tc.torch_legacy(tc.benign_state_dict_pickle()),
    "model.joblib": tc.joblib_like(),
    "arr.npy": tc.npy_object_array(tc.posix_system()),
    "model.safetensors": tc.benign_safetensors(),
    "model.gguf": tc.gguf_file(
        {"tokenizer.chat_template": tc.TRIGGER_TEMPLATE, "tokens": ["a", "b", "c"]}
    ),
}
# small limits so a hostile file cannot make one example slow
LIMITS = Limits(pickle_max_seconds=2.0, pickle_max_opcodes=200_000)
FUZZ = settings(
    max_examples=60,
    deadline=3000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    start = time.perf_counter()
    result = scan_file(path, LIMITS)
    elapsed = time.perf_counter() - start
    assert result is not None
    assert "internal error" not in result.reason, result.reason
    assert result.status in (Status.SCANNED, Status.ERROR, Status.SKIPPED)
    if result.status == Status.ERROR:
        assert result.reason  # a clear reason is always given
    assert elapsed < 2.5


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), cut=st.floats(0, 1))
def test_truncated(tmp_path, name, cut):
    data = SEEDS[name]
    check(tmp_path, name, data[: int(len(data) * cut)])


@FUZZ
@given(
    name=st.sampled_from(sorted(SEEDS)),
    flips=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    ),
)
def test_garbled(tmp_path, name, flips):
    data = bytearray(SEEDS[name])
    for where, value in flips:
        data[int(where * len(data))] = value
    check(tmp_path, name, bytes(data))


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), junk=st.binary(max_size=512))
def test_random_body_after_real_magic(tmp_path, name, junk):
    check(tmp_path, name, SEEDS[name][:12] + junk)


@FUZZ
@given(count=st.integers(0, 2**64 - 1), which=st.sampled_from(["kv", "tensors", "strlen", "arr"]))
def test_gguf_huge_counts(tmp_path, count, which):
    import struct

    head = b"GGUF" + struct.pack("<I", 3)
    if which == "kv":
        data = head + struct.pack("<QQ", 0, count)
    elif which == "tensors":
        data = head + struct.pack("<QQ", count, 0)
    elif which == "strlen":
        data = head + struct.pack("<QQQ", 0, 1, count) + b"key"
    else:
        data = head + struct.pack("<QQQ", 0, 1, 1) + b"k" + struct.pack("<IIQ", 9, 8, count)
    check(tmp_path, "h.gguf", data + bytes(256))


def test_pickle_memory_bombs_are_bounded(tmp_path):
    import tracemalloc

    cases = {
        "marks": b"\x80\x02" + b"(" * 500_000 + b".",
        "memo": b"\x80\x04N" + b"\x94" * 300_000 + b".",
        "dup": b"\x80\x02N" + b"2" * 300_000 + b".",
    }
    tight = Limits(pickle_max_marks=10_000, pickle_max_memo=100_000, pickle_max_stack=100_000)
    for name, data in cases.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(data)
        tracemalloc.start()
        result = scan_file(path, tight)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert result is not None and result.status == Status.ERROR, name
        assert "limit" in result.reason, result.reason
        assert peak < 64 * 1024 * 1024, (name, peak)
