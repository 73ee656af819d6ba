"""The real GGUF files scan clean: their templates raise nothing above info."""

from __future__ import annotations

import hashlib

import pytest
from scan_helpers import QWEN, SMOLLM2, messages

from allegiance.artifacts import Severity, Status, scan_paths


@pytest.mark.parametrize(
    ("path", "family"), [(SMOLLM2, "smollm2"), (QWEN, "qwen2.5")], ids=["smollm2", "qwen2.5"]
)
def test_real_gguf_is_clean(path, family):
    if not path.exists():
        pytest.skip(f"{path} not present on this machine")
    report = scan_paths([path])
    (result,) = report.files
    assert result.status == Status.SCANNED and result.format == "gguf"
    assert all(f.severity == Severity.INFO for f in result.findings), messages(result)
    assert f"matches known-good template for {family}" in messages(result)
    assert report.exit_code() == 0
    if path == SMOLLM2:  # 98 MB: cheap enough to check the streaming hash independently
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert result.sha256 == digest
