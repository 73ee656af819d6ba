"""Zip containers: CRC tricks, odd paths, disguised entries, bombs, extension confusion."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from scan_helpers import messages, rules, worst

from allegiance.artifacts import Severity, Status, scan_paths
from allegiance.artifacts import testcorpus as tc


def test_bad_crc_entry_is_read_anyway_and_reported(scan_bytes):
    data = tc.corrupt_crc(tc.torch_zip(tc.posix_system()), "archive/data.pkl")
    with zipfile.ZipFile(io.BytesIO(data)) as zf, pytest.raises(zipfile.BadZipFile):
        zf.read("archive/data.pkl")  # the trick is real: zipfile refuses the entry
    result = scan_bytes(data, "model.pt")
    assert "zip.crc-mismatch" in rules(result)
    assert "GLOBAL imports os.system" in messages(result)


def test_clean_torch_zip_formats(scan_bytes):
    for compress in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        result = scan_bytes(tc.torch_zip(tc.benign_state_dict_pickle(), compress=compress), "m.pt")
        assert result.format == "pytorch-zip" and result.status == Status.SCANNED, result.reason
        assert not result.findings, messages(result)


def test_lzma_entry_payload_is_found(scan_bytes):
    result = scan_bytes(tc.torch_zip(tc.posix_system(), compress=zipfile.ZIP_LZMA), "m.pt")
    assert worst(result) == Severity.CRITICAL


def test_pickle_at_odd_path_and_disguised_as_storage(scan_bytes):
    odd = scan_bytes(
        tc.torch_zip(
            tc.benign_state_dict_pickle(), extra={"archive/deep/er/data.pkl": tc.posix_system()}
        ),
        "a.pt",
    )
    assert {"zip.pickle-odd-path", "pickle.dangerous-global"} <= rules(odd)
    hidden = scan_bytes(
        tc.torch_zip(tc.benign_state_dict_pickle(), extra={"archive/data/7": tc.posix_system()}),
        "b.pt",
    )
    assert {"zip.hidden-pickle", "pickle.dangerous-global"} <= rules(hidden)


def test_duplicate_entry_names(scan_bytes):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", tc.benign_state_dict_pickle())
        with pytest.warns(UserWarning):
            zf.writestr("archive/data.pkl", tc.posix_system())
    result = scan_bytes(out.getvalue(), "dup.pt")
    assert "zip.duplicate-entry" in rules(result) and worst(result) == Severity.CRITICAL


def test_local_header_name_differs_from_directory(scan_bytes):
    data = tc.torch_zip(tc.benign_state_dict_pickle())
    # rename the entry in its local header only (same length)
    local = data.index(b"archive/data.pkl")  # first occurrence: the local header
    forged = data[:local] + b"archive/evil.pkl" + data[local + 16 :]
    result = scan_bytes(forged, "m.pt")
    assert "zip.name-mismatch" in rules(result), messages(result)


def test_deflate_bomb_is_capped(scan_bytes):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data/0", b"\x00" * (8 * 1024 * 1024))
    data = bytearray(out.getvalue())
    # lie in the central directory: declare a tiny uncompressed size
    cd = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 10)
    result = scan_bytes(bytes(data), "bomb.pt")
    assert result.status == Status.ERROR and "inflates beyond" in result.reason


def test_extension_confusion(scan_bytes):
    as_st = scan_bytes(tc.torch_zip(tc.benign_state_dict_pickle()), "model.safetensors")
    assert "format.extension-mismatch" in rules(as_st)
    as_json = scan_bytes(tc.benign_state_dict_pickle(), "config2.json")
    assert "format.extension-mismatch" in rules(as_json)
    bin_pickle = scan_bytes(tc.benign_state_dict_pickle(), "pytorch_model.bin")
    assert not bin_pickle.findings and bin_pickle.notes["detected_by_content"] == "pickle"


def test_npz_with_object_array(scan_bytes):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.npy", tc.npy_float())
        zf.writestr("b.npy", tc.npy_object_array(tc.posix_system()))
    result = scan_bytes(out.getvalue(), "arrays.npz")
    assert "npy.object-array" in rules(result) and worst(result) == Severity.CRITICAL


def test_truncated_zip_could_not_scan(scan_bytes):
    data = tc.torch_zip(tc.benign_state_dict_pickle())
    result = scan_bytes(data[: len(data) // 2], "t.pt")
    assert result.status == Status.ERROR


def _overlapping_zip(entries: int, megabytes: int) -> bytes:
    """``entries`` directory entries that all point at one deflate stream of zeros."""
    import struct
    import zlib

    zeros = b"\0" * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    size, name = megabytes << 20, b"archive/data/0"
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size,
                        len(name), 0) + name  # fmt: skip
    central = b"".join(
        struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data),
                    size, len(name), 0, 0, 0, 0, 0, 0) + name
        for _ in range(entries)
    )  # fmt: skip
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, entries, entries, len(central),
                      len(local) + len(data), 0)  # fmt: skip
    return local + data + central + end


def test_entries_sharing_one_stream_are_a_finding_and_a_bounded_scan(tmp_path):
    """An adversarial review (session 13): 5,000 entries pointing at one 1 MB stream of
    zeros made the scan take ~46 minutes (each entry inflated up to its own cap)."""
    import time

    path = tmp_path / "bomb.pt"
    path.write_bytes(_overlapping_zip(2000, 32))  # ~35 KB that declare 64 GB
    started = time.perf_counter()
    (result,) = scan_paths([path]).files
    assert time.perf_counter() - started < 60  # the shared stream is read once
    assert "zip.overlapping-entries" in rules(result)
    assert result.status == Status.ERROR
    assert "1999 entries share their bytes with another entry" in (result.reason or "")


def test_many_small_compressed_entries_are_not_taken_for_a_bomb(tmp_path):
    """A code review (session 13): a per-archive budget charged each deflated entry 1 MiB
    of slack, and an .npz of 100 small arrays was "could not scan: a zip bomb"."""
    path = tmp_path / "weights.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(100):
            archive.writestr(f"w{index}.bin", bytes(range(256)) * 2)
    (result,) = scan_paths([path]).files
    assert result.status == Status.SCANNED and not result.findings, result.reason
