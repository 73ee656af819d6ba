"""Enter fresh namespaces that have only loopback, then exec the tracer.

This file is run as a script (``python -I -S _nsinit.py ...``) by
:mod:`allegiance.sandbox.egress`, never imported by it. It uses the standard library
only, so the interpreter starts in a few milliseconds and nothing from the caller's
environment (PYTHONPATH, site-packages) runs before the namespaces exist.

Why a separate process rather than ``preexec_fn``: creating a user namespace needs a
single-threaded process, and running ctypes between fork and exec in a threaded caller
can deadlock. A fresh interpreter has one thread by construction.

What it does, in order:

1. Ask for SIGKILL when the caller dies, so nothing outlives it.
2. ``unshare()`` a new network and PID namespace, and a user namespace when it can
   (``--mode userns`` or ``auto``); with ``--mode root`` (or ``auto`` falling back as
   root) only network and PID.
3. In a user namespace, map the caller's uid and gid to themselves, so the command
   runs as the same user it would have run as.
4. Bring ``lo`` up with ``SIOCSIFFLAGS`` (no dependency on iproute2) and check that
   ``lo`` is the only interface, so the only routes are loopback routes.
5. Without a user namespace the command would keep every capability of host root, and
   root can ``setns()`` straight back into the host network. So in ``root`` mode the
   capabilities that allow leaving or tampering (:data:`DROPPED_CAPS`: CAP_SYS_ADMIN,
   CAP_SYS_PTRACE, CAP_SETUID, CAP_KILL, CAP_DAC_OVERRIDE …) are dropped from the
   bounding set.
6. Fork. The child is PID 1 of the new PID namespace: when it (the tracer) exits or is
   killed, the kernel kills every process left in the namespace, so a timeout or a
   crash cannot leave stray daemons behind. The child keeps the caller's stderr on
   ``--stderr-fd`` and sends the tracer's own messages to ``--tracer-log``, then execs
   the tracer argv given after ``--``.
7. The parent writes ``ok <mode> <netns id>`` (or ``error <reason>``) to ``--status-fd`` and relays
   the child's exit status as its own. SIGTERM makes it SIGKILL the child (a timeout).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import signal
import socket
import struct
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ_FORMAT = "16sH22x"  # struct ifreq: name[16] + union (40 bytes on 64-bit Linux)

# Capabilities that let root leave a network namespace or reach the processes outside
# it: setns/mount (SYS_ADMIN), ptrace/proc-mem of host processes (SYS_PTRACE), kernel
# modules (SYS_MODULE), interface configuration (NET_ADMIN), BPF and perf (BPF, PERFMON).
# Dropped from the bounding set before the tracer (and so the command) is executed in root
# mode. Beyond the network (NET_ADMIN, BPF), what would reach out of the namespace through
# the host's processes: becoming another user (SETUID/SETGID) or tracing, signalling or
# writing into host processes (SYS_PTRACE, KILL, and /proc/PID/mem, which a process with
# fewer capabilities than its target cannot open), files' permission checks (DAC_*, FOWNER),
# raw devices, modules, reboot, the clock, and capability and security-label changes.
DROPPED_CAPS = {
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_ADMIN": 12,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_TIME": 25,
    "CAP_MKNOD": 27,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}

MODE_FLAGS = {
    "userns": CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID,
    "root": CLONE_NEWNET | CLONE_NEWPID,
}


class SetupError(Exception):
    """Isolation could not be set up; the message is sent to the caller as one line."""


def _flag_names(flags: int) -> str:
    names = [
        ("CLONE_NEWUSER", CLONE_NEWUSER),
        ("CLONE_NEWNET", CLONE_NEWNET),
        ("CLONE_NEWPID", CLONE_NEWPID),
    ]
    return "|".join(name for name, bit in names if flags & bit)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what} failed: {os.strerror(err)} (errno {err})")


def _enter_namespaces(libc: ctypes.CDLL, mode: str) -> str:
    """Unshare the namespaces for ``mode`` and return the mode actually used."""
    candidates = ["userns", "root"] if mode == "auto" else [mode]
    if mode == "auto" and os.geteuid() != 0:
        candidates = ["userns"]
    failures = []
    for candidate in candidates:
        flags = MODE_FLAGS[candidate]
        if libc.unshare(flags) == 0:
            return candidate
        err = ctypes.get_errno()
        reason = os.strerror(err)
        if err == errno.ENOSPC and flags & CLONE_NEWUSER:
            reason = "user namespaces are disabled or used up (user.max_user_namespaces)"
        failures.append(f"unshare({_flag_names(flags)}): {reason}")
    raise SetupError("; ".join(failures))


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as error:
        raise SetupError(f"writing {path} failed: {error.strerror}") from error


def _map_identity(uid: int, gid: int) -> None:
    """Map the caller's uid/gid to themselves inside the new user namespace.

    A process mapping its own namespace has no capabilities in the parent namespace, so
    the kernel lets it write gid_map only after it gives up setgroups() (even as root).
    """
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")


def _bring_loopback_up() -> None:
    """Set IFF_UP on ``lo`` and check it is the only interface in the namespace."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack(IFREQ_FORMAT, b"lo", 0)
            flags = struct.unpack(IFREQ_FORMAT, fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ_FORMAT, b"lo", flags | IFF_UP))
            flags = struct.unpack(IFREQ_FORMAT, fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
    except OSError as error:
        raise SetupError(f"bringing up the loopback interface failed: {error.strerror}") from error
    if not flags & IFF_UP:
        raise SetupError("could not bring the loopback interface up")
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        raise SetupError(f"the new network namespace has interfaces {names}, expected only lo")


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    for name, number in DROPPED_CAPS.items():
        if libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            if err == errno.EINVAL:  # this kernel does not know the capability
                continue
            raise SetupError(f"dropping {name} failed: {os.strerror(err)}")


def _parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    if "--" not in argv:
        raise SetupError("internal: no '--' before the tracer command")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    if len(options) % 2 or not command:
        raise SetupError("internal: malformed arguments")
    return dict(zip(options[::2], options[1::2], strict=True)), command


def _run_child(libc: ctypes.CDLL, command: list[str], stderr_fd: int, tracer_log: str) -> None:
    """PID 1 of the new namespace: rewire stderr and exec the tracer. Never returns."""
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        for signum in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)  # Python ignores SIGPIPE; undo that
        os.dup2(2, stderr_fd)  # the caller's stderr, for the command (inheritable)
        log_fd = os.open(tracer_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log_fd, 2)  # the tracer's own messages
        os.close(log_fd)
        os.execv(command[0], command)  # noqa: S606 (argv, no shell: deliberate)
    except OSError as error:
        os.write(2, f"allegiance sandbox: cannot start {command[0]}: {error}\n".encode())
    os._exit(127)


def _relay(status: int) -> int:
    """Exit the way the tracer did, so the caller sees the same status."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str]) -> int:
    """Set up isolation, report on the status fd, run the tracer and relay its status."""
    libc = _libc()
    status_fd = -1
    try:
        options, command = _parse(argv)
        status_fd = int(options["--status-fd"])
        os.set_inheritable(status_fd, False)
        _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
        if os.getppid() != int(options["--parent-pid"]):
            return 1  # the caller is already gone
        uid, gid = os.getuid(), os.getgid()
        mode = _enter_namespaces(libc, options.get("--mode", "auto"))
        if mode == "userns":
            _map_identity(uid, gid)
        _bring_loopback_up()
        if mode == "root":
            _drop_capabilities(libc)
        pid = os.fork()
    except (SetupError, OSError, KeyError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        message = f"error {reason}".replace("\n", " ")
        if status_fd >= 0:
            os.write(status_fd, message.encode() + b"\n")
        else:
            sys.stderr.write(message + "\n")
        return 2
    if pid == 0:
        _run_child(libc, command, int(options["--stderr-fd"]), options["--tracer-log"])
    netns = os.readlink("/proc/self/ns/net")  # e.g. net:[4026532178], to recognise setns
    os.write(status_fd, f"ok {mode} {netns}\n".encode())
    os.close(status_fd)
    # The terminal's Ctrl-C reaches the command directly; we wait to relay its status.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    # SIGTERM from the caller (a timeout) kills PID 1 of the namespace, which takes every
    # process in it down. The child is not reaped yet, so its pid cannot have been reused.
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
        return _relay(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
