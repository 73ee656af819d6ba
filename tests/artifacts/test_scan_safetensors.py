"""safetensors: header limits, layout consistency and metadata content."""

from __future__ import annotations

import json
import struct

import pytest
from scan_helpers import messages, rules

from allegiance.artifacts import Severity, Status
from allegiance.artifacts import testcorpus as tc

DATA = bytes(32)


def st(tensors, data=DATA, metadata=None):
    return tc.safetensors_file(tensors, data, metadata)


def test_benign_file_is_clean(scan_bytes):
    result = scan_bytes(tc.benign_safetensors(), "model.safetensors")
    assert result.format == "safetensors" and result.status == Status.SCANNED
    assert not result.findings, messages(result)
    assert result.notes["safetensors"]["tensors"] == 2


@pytest.mark.parametrize(
    ("tensors", "rule", "severity"),
    [
        (
            {"a": ("F32", [4], [0, 16]), "b": ("F32", [4], [8, 24])},
            "safetensors.overlap",
            Severity.HIGH,
        ),
        ({"a": ("F32", [16], [0, 64])}, "safetensors.out-of-range", Severity.HIGH),
        ({"a": ("F32", [3], [0, 16])}, "safetensors.size-mismatch", Severity.MEDIUM),
        ({"a": ("Q9", [4], [0, 16])}, "safetensors.bad-dtype", Severity.MEDIUM),
        ({"a": ("F32", [-1], [0, 16])}, "safetensors.bad-shape", Severity.MEDIUM),
        ({"a": ("F32", [4], [16, 0])}, "safetensors.bad-offsets", Severity.MEDIUM),
        ({"a": ("F32", [4], [0, 16])}, "safetensors.trailing-data", Severity.LOW),
        ({"a": ("F32", [4], [16, 32])}, "safetensors.gap", Severity.LOW),
    ],
)
def test_layout_problems(tensors, rule, severity, scan_bytes):
    result = scan_bytes(st(tensors), "m.safetensors")
    hits = [f for f in result.findings if f.rule == rule]
    assert hits and hits[0].severity == severity, messages(result)


def test_metadata_with_url_and_code(scan_bytes):
    meta = {
        "format": "pt",
        "source": "see https://192.0.2.7/x.py",
        "init": "import os; os.system('id')",
        "note": "hi\u200bdden",
    }
    result = scan_bytes(st({"a": ("F32", [8], [0, 32])}, metadata=meta), "m.safetensors")
    assert {
        "safetensors.metadata-url",
        "safetensors.metadata-code",
        "safetensors.metadata-hidden",
    } <= rules(result)


def test_header_length_limits(scan_bytes):
    huge = struct.pack("<Q", 2**40) + b"{}" + bytes(100)
    result = scan_bytes(huge, "h.safetensors")
    assert result.status == Status.ERROR and "exceeds" in result.reason
    past = struct.pack("<Q", 500) + b'{"a": 1}'
    result = scan_bytes(past, "p.safetensors")
    assert result.status == Status.ERROR


def test_deep_json_is_refused(scan_bytes):
    header = ('{"__metadata__": ' + "[" * 100 + "]" * 100 + "}").encode()
    result = scan_bytes(struct.pack("<Q", len(header)) + header, "deep.safetensors")
    assert result.status == Status.ERROR and "deeper" in result.reason
    header = ("[" * 200_000 + "]" * 200_000).encode()
    result = scan_bytes(struct.pack("<Q", len(header)) + header, "deeper.safetensors")
    assert result.status == Status.ERROR


def test_garbage_header(scan_bytes):
    header = b"{not json" + b" " * 7
    result = scan_bytes(struct.pack("<Q", len(header)) + header, "g.safetensors")
    assert result.status == Status.ERROR and "JSON" in result.reason
    header = json.dumps([1, 2]).encode()
    result = scan_bytes(struct.pack("<Q", len(header)) + header, "l.safetensors")
    assert result.status == Status.ERROR


def test_an_integer_too_long_to_convert_is_a_reason_not_an_internal_error(scan_bytes):
    """Found by a review on 2026-11-28: a 5,000-digit offset read as a scanner bug."""
    header = '{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, ' + "9" * 5000 + "]}}"
    data = header.encode()
    result = scan_bytes(struct.pack("<Q", len(data)) + data + bytes(4), "big.safetensors")
    assert result.status == Status.ERROR
    assert "internal error" not in result.reason and "digits" in result.reason
