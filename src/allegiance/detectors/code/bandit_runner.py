"""Optional second opinion on Python code from Bandit.

Bandit parses the files it is given (it does not import or run them), so running it on a
temporary file holding model-written code is safe. It is optional: it costs a subprocess
per call (roughly a third of a second), so it is off unless asked for, and batch callers
pass many blocks at once. Its findings are mapped onto our Finding record with the CWE
Bandit reports; tests that flag style or imports rather than a vulnerability are dropped.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from allegiance.detectors.code.rules_model import Finding

# Bandit tests that report an import or a style choice, not a vulnerability in the code.
SKIPPED_TESTS = frozenset(
    {
        "B101",  # assert used
        "B403", "B404", "B405", "B406", "B407", "B408", "B409", "B410", "B411", "B412",
        "B413", "B414", "B415",  # import of a module that *can* be misused
        "B603",  # subprocess without shell: the safe form
        "B607",  # partial executable path
        "B112", "B110",  # try/except/continue|pass
    }
)  # fmt: skip
_SEVERITY = {"LOW": "low", "MEDIUM": "medium", "HIGH": "high"}

# Bandit test id -> the CWE our rules use for the same weakness. Bandit's own issue_cwe is
# broader in places (yaml.load is CWE-20, eval is CWE-78 there); mapping onto one vocabulary
# lets the two be merged per line and compared per CWE.
CWE_BY_TEST: dict[str, str] = {
    "B102": "CWE-95", "B103": "CWE-732", "B104": "CWE-1327", "B105": "CWE-798",
    "B106": "CWE-798", "B107": "CWE-798", "B108": "CWE-377", "B113": "CWE-400",
    "B201": "CWE-489", "B202": "CWE-22", "B301": "CWE-502", "B302": "CWE-502",
    "B303": "CWE-328", "B304": "CWE-327", "B305": "CWE-327", "B306": "CWE-377",
    "B307": "CWE-95", "B308": "CWE-79", "B310": "CWE-918", "B311": "CWE-330",
    "B312": "CWE-319", "B313": "CWE-776", "B314": "CWE-776", "B315": "CWE-776",
    "B316": "CWE-776", "B317": "CWE-776", "B318": "CWE-776", "B319": "CWE-776",
    "B320": "CWE-611", "B321": "CWE-319", "B323": "CWE-295", "B324": "CWE-328",
    "B501": "CWE-295", "B502": "CWE-327", "B503": "CWE-327", "B504": "CWE-327",
    "B505": "CWE-326", "B506": "CWE-502", "B507": "CWE-322", "B508": "CWE-319",
    "B509": "CWE-319", "B601": "CWE-78", "B602": "CWE-78", "B604": "CWE-78",
    "B605": "CWE-78", "B606": "CWE-78", "B608": "CWE-89", "B609": "CWE-78",
    "B610": "CWE-89", "B611": "CWE-89", "B612": "CWE-94", "B614": "CWE-502",
    "B615": "CWE-494", "B701": "CWE-79", "B702": "CWE-79", "B703": "CWE-79",
    "B704": "CWE-79",
}  # fmt: skip


class BanditUnavailable(RuntimeError):
    """Bandit is not installed next to this interpreter."""


def _command() -> list[str]:
    beside = Path(sys.executable).with_name("bandit")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("bandit")
    if found:
        return [found]
    raise BanditUnavailable("bandit is not installed (pip install bandit)")


@functools.cache
def bandit_version() -> str | None:
    try:
        out = subprocess.run([*_command(), "--version"], capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    except (BanditUnavailable, OSError, subprocess.TimeoutExpired):
        return None
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0].split()[-1] if first else None


def available() -> bool:
    return bandit_version() is not None


def run_bandit(codes: Sequence[str], timeout: float = 120.0) -> list[list[Finding]]:
    """Bandit findings for each code string; ``line`` is the 1-based line in that string."""
    results: list[list[Finding]] = [[] for _ in codes]
    if not codes:
        return results
    with tempfile.TemporaryDirectory(prefix="allegiance-bandit-") as folder:
        paths = []
        for index, code in enumerate(codes):
            path = Path(folder) / f"block_{index}.py"
            path.write_text(code, encoding="utf-8")
            paths.append(str(path))
        completed = subprocess.run(
            [*_command(), "-f", "json", "-q", "--exit-zero", *paths],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        try:
            report = json.loads(completed.stdout or "{}")
        except json.JSONDecodeError as exc:
            raise BanditUnavailable(f"bandit printed no JSON: {completed.stderr[:200]}") from exc
    for issue in report.get("results", []):
        if issue.get("test_id") in SKIPPED_TESTS:
            continue
        try:
            index = int(Path(issue["filename"]).stem.rsplit("_", 1)[1])
        except (KeyError, ValueError, IndexError):
            continue
        test_id = str(issue.get("test_id"))
        bandit_cwe = (issue.get("issue_cwe") or {}).get("id")
        cwe = CWE_BY_TEST.get(test_id) or (f"CWE-{bandit_cwe}" if bandit_cwe else "CWE-20")
        code_lines = codes[index].split("\n")
        line = int(issue.get("line_number") or 1)
        results[index].append(
            Finding(
                rule_id=f"bandit.{test_id}.{issue.get('test_name')}",
                cwe=cwe,
                severity=_SEVERITY.get(str(issue.get("issue_severity")), "low"),
                message=str(issue.get("issue_text", "")),
                language="python",
                line=line,
                snippet=code_lines[line - 1].strip()[:200] if 0 < line <= len(code_lines) else "",
                source="bandit",
            )
        )
    return results
