"""Run a command with no network, and record every destination it tried to reach.

Two independent mechanisms, because each covers what the other cannot:

* **Isolation** (the guarantee): the command runs in a fresh network namespace whose
  only interface is loopback, so no packet it makes can leave the machine, whatever it
  does. See :mod:`allegiance.sandbox._nsinit`.
* **Recording** (the evidence): ``strace -f`` inside the namespace logs every
  ``connect``/``sendto``/``sendmsg``/``sendmmsg`` (with the address), every ``setns``,
  exec and fork, and opens of the resolver's files, for the command and all its
  descendants. In the namespace every outside destination fails (``ENETUNREACH``), so
  the log records *intent*: what the program would have contacted.

The command's stdin, stdout and stderr are passed straight through (nothing is
captured), so a caller can wrap an interactive or long-running command; the trace goes
to a separate file.

Public API: :func:`run_isolated` returning :class:`EgressResult`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from allegiance.errors import AllegianceError
from allegiance.sandbox._nsinit import DROPPED_CAPS
from allegiance.sandbox.attempts import Attempt, ExecEvent, LookupHint, summarise
from allegiance.sandbox.strace_log import parse_lines

SCHEMA = "allegiance.egress/1"
ISOLATION_MODES = ("auto", "userns", "root")
# `?` makes strace skip a name this architecture lacks (aarch64 has no open/fork/vfork).
TRACED_SYSCALLS = (
    "socket",
    "connect",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "setns",
    "execve",
    "execveat",
    "clone",
    "clone3",
    "?fork",
    "?vfork",
    "?open",
    "openat",
    "?openat2",
)
# Bytes of each string strace prints: a DNS query is at most 12 (header) + 255 (name)
# + 4 (type, class) bytes, so 300 keeps every query whole while bounding the log
# (each byte is 4 characters in -xx form).
STRING_LIMIT = 300
# strace's own messages go to a file; the command gets the caller's stderr back on this
# fd from the helper and a tiny shell puts it back on fd 2 before exec'ing the command.
SHIM_STDERR_FD = 3
SHIM = f'exec 2>&{SHIM_STDERR_FD} {SHIM_STDERR_FD}>&-; exec "$@"'
SHELL = "/bin/sh"
SETUP_TIMEOUT_S = 30.0
TERMINATE_GRACE_S = 5.0
NSINIT = Path(__file__).with_name("_nsinit.py")


class IsolationError(AllegianceError):
    """The network namespace, or the tracer in it, could not be set up (exit 2)."""


class CommandError(AllegianceError):
    """The command to run is missing, not executable, or could not be started (exit 2)."""


@dataclass
class EgressResult:
    """What a command tried to reach while it ran with no network.

    ``exit_code`` is the command's own; a command killed by signal N shows 128+N, as in
    a shell (the tracer cannot re-raise the signal as PID 1 of its namespace), and a
    timeout gives -9 (the sandbox was killed). ``attempts`` lists every destination tried, in order, including loopback
    and local (Unix) sockets; :attr:`outside_attempts` is the subset that would have
    left the machine. ``method`` says in one sentence exactly how this was checked.
    Process ids are as seen inside the sandbox's own PID namespace.
    """

    argv: list[str]
    exit_code: int
    attempts: list[Attempt]
    lookup_hints: list[LookupHint]
    processes: list[dict[str, Any]]
    method: str
    isolation: str
    netns: str
    tracer: str
    duration_s: float
    timed_out: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def outside_attempts(self) -> list[Attempt]:
        """Attempts to reach anything beyond loopback (these make the CLI exit 1)."""
        return [a for a in self.attempts if a.outside]

    @property
    def loopback_attempts(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.outside and not a.is_local_socket]

    @property
    def local_socket_attempts(self) -> list[Attempt]:
        """Unix and packet sockets: not network, listed so a reader can judge them."""
        return [a for a in self.attempts if a.is_local_socket]

    @property
    def verdict_exit_code(self) -> int:
        """0 if only loopback was attempted, 1 if anything else was."""
        return 1 if self.outside_attempts else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "argv": self.argv,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": round(self.duration_s, 3),
            "outside": len(self.outside_attempts),
            "verdict_exit_code": self.verdict_exit_code,
            "method": self.method,
            "isolation": self.isolation,
            "netns": self.netns,
            "tracer": self.tracer,
            "attempts": [a.to_dict() for a in self.attempts],
            "lookup_hints": [h.to_dict() for h in self.lookup_hints],
            "processes": self.processes,
            "warnings": self.warnings,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=True)


@dataclass(frozen=True)
class _Tracer:
    path: str
    version: str
    seccomp_bpf: bool

    @property
    def label(self) -> str:
        return f"strace {self.version}"


@functools.lru_cache(maxsize=4)
def _find_tracer(path_env: str) -> _Tracer:
    path = shutil.which("strace", path=path_env)
    if path is None:
        raise IsolationError(
            "strace is not installed (not on PATH); it records what the command tries to reach "
            "(Debian/Ubuntu: apt-get install strace; Fedora: dnf install strace)"
        )
    try:
        out = subprocess.run(
            [path, "-V"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        raise IsolationError(f"cannot run {path} -V: {error}") from error
    match = re.search(r"version (\d+)\.(\d+)(?:\.\d+)?", out)
    if match is None:
        raise IsolationError(f"cannot tell the version of {path} (strace -V printed {out!r})")
    major, minor = int(match.group(1)), int(match.group(2))
    # --seccomp-bpf (strace >= 5.3) stops only on traced calls: far less overhead.
    return _Tracer(path, f"{major}.{minor}", (major, minor) >= (5, 3))


def _resolve_command(argv: list[str], env: dict[str, str], cwd: str | None) -> str:
    """The absolute path the command will run, or a clear error if there is none."""
    name = argv[0]
    if "/" in name:
        candidate = os.path.join(cwd or os.getcwd(), name)
        if not os.path.exists(candidate):
            raise CommandError(f"command not found: {name!r} does not exist")
        if os.path.isdir(candidate) or not os.access(candidate, os.X_OK):
            raise CommandError(f"cannot run {name!r}: it is not an executable file")
        return os.path.abspath(candidate)
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise CommandError(f"command not found: {name!r} is not on PATH")
    return found


def _strace_argv(tracer: _Tracer, trace_path: str, argv: list[str]) -> list[str]:
    # -y names each fd (socket:[inode], a path); -yy would also ask the kernel for the
    # socket's addresses on every call, which made traced programs ~25x slower.
    command = [
        tracer.path,
        "-f",
        "-qqq",
        "-y",
        "-xx",
        "-s",
        str(STRING_LIMIT),
        "-e",
        "signal=none",
        "-e",
        "trace=" + ",".join(TRACED_SYSCALLS),
        "-o",
        trace_path,
    ]
    if tracer.seccomp_bpf:
        command.insert(2, "--seccomp-bpf")
    return [*command, "--", SHELL, "-c", SHIM, "sh", *argv]


def _method(mode: str, tracer: _Tracer) -> str:
    calls = (
        "connect/sendto/sendmsg/sendmmsg/setns (plus socket, exec, fork and resolver-file opens)"
    )
    options = "-f --seccomp-bpf" if tracer.seccomp_bpf else "-f"
    if mode == "userns":
        where = (
            "ran in fresh user, network and PID namespaces whose only interface is "
            "loopback (unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWPID), uid and gid "
            "mapped to themselves)"
        )
    else:
        where = (
            "ran as root in fresh network and PID namespaces whose only interface is "
            "loopback (unshare(CLONE_NEWNET|CLONE_NEWPID)), with "
            f"{len(DROPPED_CAPS)} capabilities dropped (among them CAP_SYS_ADMIN, "
            "CAP_SYS_PTRACE, CAP_SETUID and CAP_KILL) so it cannot setns() back into the "
            "host network or reach into host processes"
        )
    return (
        f"{where}; {calls} of the command and all its descendants traced with "
        f"{tracer.label} {options}"
    )


def _inherited_socket_warnings(streams: list[Any]) -> list[str]:
    """Warn when stdin/stdout/stderr is a network socket from outside the namespace.

    Writes to such an fd would reach the network without any traced call naming a
    destination, so we cannot vouch for them.
    """
    warnings = []
    for number, stream in enumerate(streams):
        if stream is None:
            fd = number
        elif isinstance(stream, int) and stream >= 0:
            fd = stream
        elif hasattr(stream, "fileno"):
            fd = stream.fileno()
        else:
            continue
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            probe = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with probe:
            family = probe.family
        if family in (socket.AF_INET, socket.AF_INET6):
            name = ("stdin", "stdout", "stderr")[number]
            warnings.append(
                f"{name} is a network socket opened outside the namespace; "
                "data written to it is not isolated or recorded"
            )
    return warnings


def _read_status(fd: int, proc: subprocess.Popen[bytes]) -> str:
    """The helper's one status line; empty if it died without writing one."""
    chunks = []
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        elif proc.poll() is not None:
            break
    return b"".join(chunks).decode("utf-8", "replace").strip()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the helper and, through it, every process in the sandbox."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(TERMINATE_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()  # the kernel then SIGKILLs PID 1 of the namespace (PDEATHSIG)
        proc.wait()


def _processes(
    execs: list[ExecEvent], parents: dict[int, int], shim_pid: int | None
) -> list[dict[str, Any]]:
    programs: dict[int, list[str]] = {}
    skipped_shim = False
    for event in execs:
        if not event.ok:
            continue
        if event.pid == shim_pid and not skipped_shim:
            skipped_shim = True  # our /bin/sh shim, not the user's command
            continue
        programs.setdefault(event.pid, []).append(event.path)
    pids = sorted(set(programs) | set(parents))
    return [
        {"pid": pid, "parent": parents.get(pid), "programs": programs.get(pid, [])} for pid in pids
    ]


def _check_started(
    execs: list[ExecEvent], argv: list[str], tracer_log: list[str], exit_code: int
) -> int | None:
    """The pid the command runs as, or raise if the tracer or the command never started."""
    if not execs:
        detail = tracer_log[-1] if tracer_log else f"it exited with {exit_code}"
        raise IsolationError(f"strace could not start inside the namespace: {detail}")
    shim_pid = execs[0].pid
    started = [e for e in execs[1:] if e.pid == shim_pid and e.ok]
    if not started and exit_code in (126, 127):
        raise CommandError(
            f"could not start {argv[0]!r} inside the sandbox "
            f"(exit {exit_code}); see the message above"
        )
    return shim_pid


def _launch(
    strace_argv: list[str],
    isolation: str,
    tracer_log_path: str,
    *,
    env: dict[str, str],
    cwd: str | None,
    streams: tuple[Any, Any, Any],
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start the namespace helper; return it, the isolation mode and the netns id."""
    read_fd, write_fd = os.pipe()
    helper = [
        sys.executable,
        "-I",
        "-S",
        os.fspath(NSINIT),
        "--mode",
        isolation,
        "--status-fd",
        str(write_fd),
        "--parent-pid",
        str(os.getpid()),
        "--stderr-fd",
        str(SHIM_STDERR_FD),
        "--tracer-log",
        tracer_log_path,
        "--",
        *strace_argv,
    ]
    try:
        try:
            proc = subprocess.Popen(
                helper,
                env=env,
                cwd=cwd,
                pass_fds=[write_fd],
                stdin=streams[0],
                stdout=streams[1],
                stderr=streams[2],
            )
        finally:
            os.close(write_fd)
        status = _read_status(read_fd, proc)
    except OSError as error:
        raise IsolationError(f"cannot start the sandbox helper: {error}") from error
    finally:
        os.close(read_fd)
    if not status.startswith("ok "):
        _stop(proc)
        reason = status.removeprefix("error ") or f"the helper exited {proc.returncode}"
        raise IsolationError(
            f"cannot create an isolated network namespace ({reason}); this needs root, or "
            "unprivileged user namespaces (sysctl user.max_user_namespaces>0, and "
            "kernel.unprivileged_userns_clone=1 where that exists); in a container, allow "
            "unshare() (e.g. --cap-add SYS_ADMIN)"
        )
    _, mode, netns = status.split(maxsplit=2)
    return proc, mode, netns


def run_isolated(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    isolation: str = "auto",
    trace_file: str | os.PathLike[str] | None = None,
) -> EgressResult:
    """Run ``argv`` with only loopback networking and record what it tried to reach.

    The command's streams are inherited unless ``stdin``/``stdout``/``stderr`` are given
    (a file object or an fd; ``subprocess.PIPE`` is not read here, so do not pass it),
    so output streams live. ``isolation``
    is ``auto`` (a user namespace if the kernel allows it, else root-only namespaces),
    ``userns`` or ``root``. ``trace_file`` keeps strace's raw log at that path.

    Raises :class:`CommandError` if there is no such command and
    :class:`IsolationError` if the namespace or the tracer cannot be set up; both are
    :class:`~allegiance.errors.AllegianceError` (exit code 2 in the CLI). The command
    failing is *not* an error: its exit status is in :attr:`EgressResult.exit_code`.
    """
    if not argv:
        raise CommandError(
            "no command given; usage: allegiance egress [OPTIONS] -- COMMAND [ARGS]..."
        )
    if isolation not in ISOLATION_MODES:
        raise IsolationError(
            f"unknown isolation mode {isolation!r}; use one of {', '.join(ISOLATION_MODES)}"
        )
    if not sys.platform.startswith("linux"):
        raise IsolationError(f"network isolation needs Linux namespaces; this is {sys.platform}")
    argv = [os.fspath(a) for a in argv]
    child_env = dict(os.environ if env is None else env)
    workdir = os.fspath(cwd) if cwd is not None else None
    tracer = _find_tracer(os.environ.get("PATH", os.defpath))
    _resolve_command(argv, child_env, workdir)
    if not os.access(SHELL, os.X_OK):
        raise IsolationError(f"{SHELL} is missing; it is needed to hand stderr to the command")
    warnings = _inherited_socket_warnings([stdin, stdout, stderr])

    with tempfile.TemporaryDirectory(prefix="allegiance-egress-") as tmp:
        # absolute: strace runs in ``cwd`` while we read the file from here
        trace_path = os.path.abspath(trace_file) if trace_file is not None else f"{tmp}/trace.log"
        tracer_log_path = f"{tmp}/strace-messages.log"
        strace_argv = _strace_argv(tracer, trace_path, argv)
        started = time.monotonic()
        proc, mode, netns = _launch(
            strace_argv,
            isolation,
            tracer_log_path,
            env=child_env,
            cwd=workdir,
            streams=(stdin, stdout, stderr),
        )
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _stop(proc)
        exit_code = proc.returncode
        duration = time.monotonic() - started
        tracer_log = list(_lines(tracer_log_path))
        summary = summarise(parse_lines(_lines(trace_path)), sandbox_netns=netns)

    shim_pid = _check_started(summary.execs, argv, tracer_log, exit_code)
    if timed_out:
        warnings.append(f"the command was still running after {timeout:g} s and was killed")
    warnings.extend(line for line in tracer_log if line)
    return EgressResult(
        argv=argv,
        exit_code=exit_code,
        attempts=summary.attempts,
        lookup_hints=summary.hints,
        processes=_processes(summary.execs, summary.parents, shim_pid),
        method=_method(mode, tracer),
        isolation=mode,
        netns=netns,
        tracer=tracer.label,
        duration_s=duration,
        timed_out=timed_out,
        warnings=warnings,
    )


def _lines(path: str) -> Iterator[str]:
    """Lines of a file, streamed (a trace can be large); none if it was never written."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                yield line.rstrip("\n")
    except FileNotFoundError:
        return
