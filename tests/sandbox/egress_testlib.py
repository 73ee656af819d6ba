"""Helpers shared by the sandbox tests (a plain module: ``conftest`` is not importable
by name when several test folders have one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
CLI_CODE = "import sys; from allegiance.cli import main; sys.exit(main(sys.argv[1:]))"
RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``allegiance ARGS`` in a fresh interpreter, as a user would."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), full_env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", CLI_CODE, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def netns_unavailable_reason() -> str | None:
    """Why this machine cannot run namespace tests at all, judged from the system alone."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if shutil.which("strace") is None:
        return "strace is not installed (apt-get install strace)"
    if os.geteuid() == 0:
        return None
    if (_read_int("/proc/sys/user/max_user_namespaces") or 0) == 0:
        return "not root and user namespaces are disabled (user.max_user_namespaces=0)"
    if _read_int("/proc/sys/kernel/unprivileged_userns_clone") == 0:
        return "not root and kernel.unprivileged_userns_clone=0"
    return None
