r"""Read the log that ``strace -f -xx -y -o FILE`` writes, one record per system call.

We ask strace for ``-xx`` (every string as ``\xNN`` escapes), which makes the log easy
to parse safely: no raw quote, bracket or newline from the traced program can appear
inside a string, so a hostile program cannot forge a log line by choosing what it sends.
This module only splits lines into records and decodes strings; what a record means is
decided in :mod:`allegiance.sandbox.attempts`.

Line shapes handled (``PID`` is present because of ``-f``)::

    7     socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3<\x73\x6f...>   (fd: socket:[31069])
    7     connect(3<\x73\x6f...>, {sa_family=AF_INET, ...}, 16) = -1 ENETUNREACH (...)
    7     connect(3<\x73\x6f...>, {...}, 16 <unfinished ...>
    7     <... connect resumed>) = 0
    7     --- SIGCHLD {...} ---            (signals: skipped)
    7     +++ exited with 0 +++            (exits: skipped)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<rest>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<body>.*)$")
_UNFINISHED = " <unfinished ...>"
# strace pads short lines so that " = " lines up in a column: ")      = 0".
_RETURN_SPLIT = re.compile(r"\)\s+= ")
_RETURN = re.compile(
    r"^(?P<value>-?\d+|\?|0x[0-9a-fA-F]+)(?:<(?P<fd>[^>]*)>)?(?:\s+(?P<errno>E[A-Z0-9]+)\b)?"
)
_FD_ARG = re.compile(r"^\s*-?\d+<(?P<fd>[^>]*)>")
_HEX_STRING = re.compile(r'"((?:\\x[0-9a-fA-F]{2})*)"')


@dataclass(frozen=True)
class SyscallRecord:
    """One system call from the log.

    ``index`` is the line on which the call started, so records can be ordered by when
    a call began even when strace printed it in two halves. ``retval`` is None when the
    call never returned (the process was killed or the trace stopped mid-call).
    ``returned_fd`` describes a returned fd (``socket:[185387]``), thanks to ``-y``.
    """

    index: int
    pid: int
    name: str
    args: str
    retval: int | None
    errno: str | None
    returned_fd: str | None = None

    @property
    def fd(self) -> str | None:
        """What the first argument's fd is (``-y``), e.g. ``socket:[185387]``, decoded."""
        match = _FD_ARG.match(self.args)
        return decode_fd(match.group("fd")) if match else None

    @property
    def ok(self) -> bool:
        return self.retval is not None and self.retval >= 0

    @property
    def result(self) -> str:
        """``ok``, the errno name (``ENETUNREACH``), or ``unfinished``."""
        if self.retval is None:
            return "unfinished"
        if self.errno:
            return self.errno
        return "ok" if self.retval >= 0 else "error"


def decode_hex(text: str) -> bytes:
    r"""Bytes of a ``-xx`` string body such as ``\x31\x32``."""
    return bytes.fromhex(text.replace("\\x", ""))


def decode_fd(text: str) -> str:
    r"""An fd description from ``-y`` (hex-escaped under ``-xx``) as printable text."""
    if text.startswith("\\x"):
        raw = decode_hex(text)
        return raw.decode("utf-8", "backslashreplace").encode("unicode_escape").decode("ascii")
    return text


def strings_in(text: str) -> list[bytes]:
    """Every quoted ``-xx`` string in ``text``, decoded, in order."""
    return [decode_hex(match.group(1)) for match in _HEX_STRING.finditer(text)]


def _split_return(body: str) -> tuple[str, int | None, str | None, str | None]:
    """Split ``args) = -1 EFOO (...)`` into the args and the return value.

    The last ``) = `` is the split point: arguments cannot contain one after it because
    every string in them is hex-escaped.
    """
    splits = list(_RETURN_SPLIT.finditer(body))
    if not splits:
        return body.rstrip(")"), None, None, None
    last = splits[-1]
    args, ret = body[: last.start()], body[last.end() :]
    match = _RETURN.match(ret)
    if match is None or match.group("value") == "?":
        return args, None, None, None
    value = match.group("value")
    retval = int(value, 16) if value.startswith("0x") else int(value)
    fd = match.group("fd")
    return args, retval, match.group("errno"), decode_fd(fd) if fd else None


def parse_lines(lines: Iterable[str]) -> Iterator[SyscallRecord]:
    """Yield one record per completed or abandoned call, in the order calls finished.

    Calls strace printed as ``<unfinished ...>`` are joined with their ``resumed`` half.
    Calls that never resumed are yielded at the end with ``retval=None``. Lines that are
    not system calls (signals, exits, strace's own notes) are skipped.
    """
    pending: dict[tuple[int, str], tuple[int, str]] = {}
    for index, raw in enumerate(lines):
        line = raw.rstrip("\n")
        match = _LINE.match(line)
        if match is None:
            continue
        pid, rest = int(match.group("pid")), match.group("rest")
        if rest.startswith(("---", "+++")):
            continue
        resumed = _RESUMED.match(rest)
        if resumed is not None:
            name = resumed.group("name")
            started = pending.pop((pid, name), None)
            if started is None:
                continue
            start_index, head = started
            args, retval, errno, fd = _split_return(head + resumed.group("rest"))
            yield SyscallRecord(start_index, pid, name, args, retval, errno, fd)
            continue
        call = _CALL.match(rest)
        if call is None:
            continue
        name, body = call.group("name"), call.group("body")
        if body.endswith(_UNFINISHED):
            pending[(pid, name)] = (index, body[: -len(_UNFINISHED)])
            continue
        args, retval, errno, fd = _split_return(body)
        yield SyscallRecord(index, pid, name, args, retval, errno, fd)
    for (pid, name), (start_index, head) in sorted(pending.items(), key=lambda kv: kv[1][0]):
        yield SyscallRecord(start_index, pid, name, head, None, None)
