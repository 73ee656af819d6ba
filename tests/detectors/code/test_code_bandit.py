"""Optional Bandit merge: findings mapped to our CWE vocabulary and merged per line."""

from __future__ import annotations

import pytest

from allegiance.detectors.code import bandit_runner
from allegiance.detectors.code.scan import scan

pytestmark = pytest.mark.skipif(not bandit_runner.available(), reason="bandit not installed")


def test_bandit_findings_are_merged_and_deduplicated() -> None:
    answer = (
        "Intro\n\n```python\nimport yaml\nimport hashlib\n"
        "cfg = yaml.load(text)\n"  # ours (CWE-502) and Bandit B506 -> one finding
        "etag = hashlib.md5(body).hexdigest()\n"  # Bandit B324 (high) beats ours (low)
        "```\n"
    )
    result = scan(answer, bandit=True)
    by_line = {f.line: f for f in result.findings}
    assert set(by_line) == {6, 7}
    assert (by_line[6].cwe, by_line[6].source) == ("CWE-502", "allegiance")
    assert (by_line[7].rule_id, by_line[7].cwe) == ("bandit.B324.hashlib", "CWE-328")
    assert result.analysers["python"] == "python-ast+bandit"


def test_bandit_sees_nothing_in_a_block_that_does_not_parse() -> None:
    (report,) = bandit_runner.run_bandit(["    x = pickle.loads(data)\n  y = ("])
    assert report == []
