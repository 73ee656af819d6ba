"""Embedded-model assembly: chunks found without importing their packages, joined, checked
against the pinned size and sha256, refused on mismatch, re-checked when the file changes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from allegiance.errors import ModelFileError
from allegiance.targets import embedded
from allegiance.targets.embedded import EmbeddedModel, ensure_model

# A tiny but valid GGUF (v3, no tensors, one metadata key) split into two "wheels".
GGUF = (
    b"GGUF"
    + (3).to_bytes(4, "little")
    + (0).to_bytes(8, "little")
    + (1).to_bytes(8, "little")
    + (12).to_bytes(8, "little")
    + b"general.name"
    + (8).to_bytes(4, "little")
    + (4).to_bytes(8, "little")
    + b"tiny"
)


def _packages(root: Path, marker: Path) -> None:
    halves = (GGUF[:20], GGUF[20:])
    for index, chunk in enumerate(halves, start=1):
        package = root / f"allegiance_fake_part{index}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part0{index}.bin").write_bytes(chunk)
        # importing the package would leave a mark: the assembler must never do it
        (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\n")


@pytest.fixture()
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    site = tmp_path / "site"
    marker = tmp_path / "imported.txt"
    _packages(site, marker)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ALLEGIANCE_CACHE_DIR", str(tmp_path / "cache"))
    model = EmbeddedModel(
        name="fake-tiny",
        title="Fake",
        origin="tests",
        licence="none",
        size=len(GGUF),
        sha256=hashlib.sha256(GGUF).hexdigest(),
        parts=(
            ("allegiance_fake_part1", "data/part01.bin"),
            ("allegiance_fake_part2", "data/part02.bin"),
        ),
        install_hint="(test)",
    )
    monkeypatch.setitem(embedded.CATALOGUE, "fake-tiny", model)
    return "fake-tiny", marker


def test_assembles_verifies_and_never_imports(fake_model: tuple[str, Path]) -> None:
    name, marker = fake_model
    path = ensure_model(name)
    assert path.read_bytes() == GGUF
    assert not marker.exists(), "a model package was imported"
    assert embedded.verified_path(name) == path
    summary = embedded.scan_summary(name)
    assert summary is not None and "clean" in summary


def test_wrong_pin_is_refused(
    fake_model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _ = fake_model
    bad = embedded.CATALOGUE[name].__class__(
        **{**embedded.CATALOGUE[name].__dict__, "sha256": "0" * 64}
    )
    monkeypatch.setitem(embedded.CATALOGUE, name, bad)
    with pytest.raises(ModelFileError, match="do not match the pinned weights"):
        ensure_model(name)


def test_tampering_after_verification_is_caught(fake_model: tuple[str, Path]) -> None:
    name, _ = fake_model
    path = ensure_model(name)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1, 1))
    assert embedded.verified_path(name) is None
    # same size: re-assembly is skipped, the hash check refuses the file
    with pytest.raises(ModelFileError, match="sha256"):
        ensure_model(name)


def test_missing_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ALLEGIANCE_CACHE_DIR", str(tmp_path))
    model = EmbeddedModel(
        "absent",
        "A",
        "x",
        "x",
        1,
        "0" * 64,
        (("allegiance_no_such_pkg", "x.bin"),),
        "pip install X",
    )
    monkeypatch.setitem(embedded.CATALOGUE, "absent", model)
    with pytest.raises(ModelFileError, match="pip install X"):
        ensure_model("absent")
