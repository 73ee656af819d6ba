"""Turn traced system calls into the destinations a program tried to reach.

Input: :class:`~allegiance.sandbox.strace_log.SyscallRecord` objects. Output: one
:class:`Attempt` per destination named in a ``connect``/``sendto``/``sendmsg``/
``sendmmsg`` (and per ``setns`` into another network namespace), each classified as
loopback, outside, or a local (Unix/packet) socket, plus hints that a name lookup
happened (the resolver's configuration files were opened).

Classification rules, and why:

* IPv4 ``127.0.0.0/8``, IPv6 ``::1``, their IPv4-mapped forms, and the unspecified
  addresses ``0.0.0.0``/``::`` (Linux connects those to the local host) are loopback.
* A message to port 53, or a DNS query sent on a socket connected to port 53, is a name
  lookup and counts as *outside* even when the resolver is on loopback: a loopback
  resolver (systemd-resolved's 127.0.0.53, dnsmasq) exists to forward the name to the
  network. Lookups of ``localhost`` names are the exception (RFC 6761).
* ``AF_UNIX`` and ``AF_PACKET`` sockets are not network destinations in the namespace
  and are listed separately, never counted. Path-based Unix sockets are shared with the
  host, so a host daemon behind one could act for the program; the list shows them.
* ``AF_VSOCK`` is not confined by network namespaces (on a VM it reaches the host), so
  anything but CID 1 (local) counts as outside. Other address families we do not know
  are counted as outside too: we would rather over-report than miss a way out.
* ``AF_NETLINK`` and ``AF_UNSPEC`` (kernel messages and "disconnect") are ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from allegiance.sandbox.dns import DnsQuestion, parse_query
from allegiance.sandbox.strace_log import SyscallRecord, decode_hex, strings_in

SEND_CALLS = frozenset({"sendto", "sendmsg", "sendmmsg"})
DESTINATION_CALLS = frozenset({"connect"}) | SEND_CALLS
EXEC_CALLS = frozenset({"execve", "execveat"})
FORK_CALLS = frozenset({"clone", "clone3", "fork", "vfork"})
OPEN_CALLS = frozenset({"open", "openat", "openat2"})
NAMESERVICE_FILES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/run/systemd/resolve/",
)
IGNORED_FAMILIES = frozenset({"AF_NETLINK", "AF_UNSPEC"})
LOCAL_FAMILIES = {"AF_UNIX": "unix", "AF_PACKET": "packet"}
VSOCK_CIDS = {
    "VMADDR_CID_ANY": -1,
    "VMADDR_CID_HYPERVISOR": 0,
    "VMADDR_CID_LOCAL": 1,
    "VMADDR_CID_HOST": 2,
}

_SOCKADDR = re.compile(r"\{sa_family=(?P<family>AF_[A-Z0-9_]+|\d+)(?P<body>[^{}]*)\}")
_PORT = re.compile(r"sin6?_port=htons\((?P<port>\d+)\)")
_INET_ADDR = re.compile(r'sin_addr=inet_addr\("(?P<addr>(?:\\x[0-9a-fA-F]{2})*)"\)')
_INET6_ADDR = re.compile(r'inet_pton\(AF_INET6, "(?P<addr>(?:\\x[0-9a-fA-F]{2})*)"')
_SUN_PATH = re.compile(r'sun_path=(?P<abstract>@?)"(?P<path>(?:\\x[0-9a-fA-F]{2})*)"')
_VSOCK = re.compile(r"svm_cid=(?P<cid>\w+), svm_port=(?P<port>\w+)")
_SOCKET_CALL = re.compile(
    r"^(?P<family>AF_[A-Z0-9_]+|\d+), (?P<type>SOCK_[A-Z]+)[^,]*, "
    r"(?P<proto>\w+)"
)
_PROTOCOLS = {
    ("SOCK_STREAM", "IPPROTO_SCTP"): "sctp",
    ("SOCK_STREAM", "IPPROTO_MPTCP"): "mptcp",
    ("SOCK_DGRAM", "IPPROTO_UDPLITE"): "udplite",
    ("SOCK_DGRAM", "IPPROTO_ICMP"): "icmp",
    ("SOCK_DGRAM", "IPPROTO_ICMPV6"): "icmp",
}
_INET_TYPES = {
    "SOCK_STREAM": "tcp",
    "SOCK_DGRAM": "udp",
    "SOCK_RAW": "raw",
    "SOCK_SEQPACKET": "sctp",
}


@dataclass(frozen=True)
class Attempt:
    """One try to reach a destination.

    ``is_loopback`` says whether the *address* is loopback; ``outside`` whether the try
    counts as reaching beyond this machine's loopback (see the module docstring: a DNS
    query to a loopback resolver has ``is_loopback=True`` and ``outside=True``).
    ``family`` is ``ipv4``, ``ipv6``, ``unix``, ``packet``, ``vsock``, ``netns`` or the
    lower-cased name of another address family. ``result`` is ``ok``, the errno name
    (``ENETUNREACH``...) or ``unfinished``.
    """

    kind: str
    family: str
    protocol: str | None
    address: str | None
    port: int | None
    syscall: str
    result: str
    pid: int
    program: str | None
    is_loopback: bool
    outside: bool
    dns_questions: tuple[DnsQuestion, ...] = ()
    note: str | None = None
    index: int = field(default=0, compare=False, repr=False)

    @property
    def is_local_socket(self) -> bool:
        """A Unix or packet socket: listed, but not a network destination."""
        return self.family in LOCAL_FAMILIES.values()

    @property
    def destination(self) -> str:
        """The destination as people write it: ``192.0.2.1:80``, ``[::1]:53``, a path."""
        if self.family == "ipv6":
            return f"[{self.address}]:{self.port}"
        if self.family in ("ipv4", "vsock") and self.port is not None:
            return f"{self.address}:{self.port}"
        return self.address or f"({self.family})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "family": self.family,
            "protocol": self.protocol,
            "address": self.address,
            "port": self.port,
            "destination": self.destination,
            "syscall": self.syscall,
            "result": self.result,
            "pid": self.pid,
            "program": self.program,
            "is_loopback": self.is_loopback,
            "outside": self.outside,
            "dns_questions": [{"name": q.name, "type": q.qtype} for q in self.dns_questions],
            "note": self.note,
        }


@dataclass(frozen=True)
class LookupHint:
    """A process opened a name-service file: a sign it resolved a name."""

    pid: int
    program: str | None
    path: str
    result: str

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "program": self.program, "path": self.path, "result": self.result}


@dataclass(frozen=True)
class ExecEvent:
    """A process replaced its program (``execve``); ``ok`` is whether it succeeded."""

    index: int
    pid: int
    path: str
    ok: bool


@dataclass
class TraceSummary:
    """Everything :func:`summarise` learned from one trace."""

    attempts: list[Attempt]
    hints: list[LookupHint]
    execs: list[ExecEvent]
    parents: dict[int, int]


@dataclass(frozen=True)
class _Sockaddr:
    family: str
    address: str | None
    port: int | None


def _text(raw: bytes) -> str:
    """Bytes from the traced program as printable text (escapes control characters)."""
    return raw.decode("utf-8", "backslashreplace").encode("unicode_escape").decode("ascii")


def _number(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def parse_sockaddrs(args: str) -> list[_Sockaddr]:
    """Every socket address strace decoded in ``args`` (netlink/unspec dropped)."""
    found = []
    for match in _SOCKADDR.finditer(args):
        family, body = match.group("family"), match.group("body")
        if family in IGNORED_FAMILIES:
            continue
        port_match = _PORT.search(body)
        port = int(port_match.group("port")) if port_match else None
        if family == "AF_INET":
            addr = _INET_ADDR.search(body)
            found.append(
                _Sockaddr(
                    "ipv4",
                    decode_hex(addr.group("addr")).decode("ascii", "replace") if addr else None,
                    port,
                )
            )
        elif family == "AF_INET6":
            addr = _INET6_ADDR.search(body)
            found.append(
                _Sockaddr(
                    "ipv6",
                    decode_hex(addr.group("addr")).decode("ascii", "replace") if addr else None,
                    port,
                )
            )
        elif family == "AF_UNIX":
            path = _SUN_PATH.search(body)
            if path is None:
                found.append(_Sockaddr("unix", "(unnamed)", None))
            else:
                prefix = "@" if path.group("abstract") else ""
                found.append(
                    _Sockaddr("unix", prefix + _text(decode_hex(path.group("path"))), None)
                )
        elif family == "AF_VSOCK":
            vsock = _VSOCK.search(body)
            if vsock is None:
                found.append(_Sockaddr("vsock", None, None))
            else:
                cid_text = vsock.group("cid")
                cid = VSOCK_CIDS.get(cid_text, _number(cid_text))
                found.append(
                    _Sockaddr(
                        "vsock",
                        f"cid {cid if cid is not None else cid_text}",
                        _number(vsock.group("port")),
                    )
                )
        elif family in LOCAL_FAMILIES:
            found.append(_Sockaddr(LOCAL_FAMILIES[family], None, None))
        else:
            found.append(_Sockaddr(family.lower(), None, port))
    return found


def is_loopback_address(family: str, address: str | None) -> bool:
    """Loopback or unspecified (which Linux connects to the local host)."""
    if family == "vsock":
        return address == "cid 1"
    if family not in ("ipv4", "ipv6") or not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


class _Sockets:
    """What each socket is, learned from ``socket()`` and ``connect()`` as the trace goes.

    Sockets are keyed by their inode (``socket:[185387]`` from ``-y``), which is unique
    while the socket lives, so the record survives fd reuse, dup, fork and threads. This
    replaces ``-yy``, which asks the kernel about the socket on every traced call and
    made traced programs about 25 times slower in our benchmark.
    """

    def __init__(self) -> None:
        self.protocol: dict[str, str] = {}
        self.peer: dict[str, _Sockaddr] = {}

    def created(self, record: SyscallRecord) -> None:
        match = _SOCKET_CALL.match(record.args)
        if match is None or record.returned_fd is None:
            return
        family, sotype = match.group("family"), match.group("type")
        protocol = _PROTOCOLS.get((sotype, match.group("proto")))
        if protocol is None and family in ("AF_INET", "AF_INET6"):
            protocol = _INET_TYPES.get(sotype)
        if protocol is None:
            protocol = f"{family.removeprefix('AF_')}-{sotype.removeprefix('SOCK_')}".lower()
        self.protocol[record.returned_fd] = protocol
        self.peer.pop(record.returned_fd, None)  # a reused inode is a new socket

    def connected(self, socket_id: str | None, peer: _Sockaddr) -> None:
        if socket_id is not None:
            self.peer[socket_id] = peer


def _dns_questions(record: SyscallRecord, protocol: str | None) -> tuple[DnsQuestion, ...]:
    questions: list[DnsQuestion] = []
    for data in strings_in(record.args):
        parsed = parse_query(data, tcp=protocol == "tcp")
        if parsed:
            questions.extend(q for q in parsed if q not in questions)
    return tuple(questions)


def _only_localhost(questions: tuple[DnsQuestion, ...]) -> bool:
    names = [q.name.lower().rstrip(".") for q in questions]
    return bool(names) and all(n == "localhost" or n.endswith(".localhost") for n in names)


def _attempts_from(record: SyscallRecord, program: str | None, sockets: _Sockets) -> list[Attempt]:
    socket_id = record.fd
    protocol = sockets.protocol.get(socket_id) if socket_id else None
    addresses = parse_sockaddrs(record.args)
    if record.name == "connect" and addresses:
        sockets.connected(socket_id, addresses[0])
    peer = sockets.peer.get(socket_id) if socket_id else None
    if not addresses and record.name in SEND_CALLS and peer is not None and peer.port == 53:
        addresses = [peer]  # a query on a socket already connected to a resolver
    # what every attempt of this call shares
    from_call: dict[str, Any] = {
        "protocol": protocol,
        "syscall": record.name,
        "result": record.result,
        "pid": record.pid,
        "program": program,
        "index": record.index,
    }
    attempts = []
    for sockaddr in addresses:
        loopback = is_loopback_address(sockaddr.family, sockaddr.address)
        is_ip = sockaddr.family in ("ipv4", "ipv6")
        kind = "connect" if record.name == "connect" else "send"
        questions: tuple[DnsQuestion, ...] = ()
        note = None
        if is_ip and sockaddr.port == 53:
            kind = "dns"
            if record.name in SEND_CALLS:
                questions = _dns_questions(record, protocol)
            if loopback:
                note = "name lookup via a loopback resolver, which would forward it"
        elif is_ip and record.name == "connect" and protocol == "udp" and sockaddr.port == 0:
            note = "UDP connect to port 0: a route check (glibc does this to sort addresses)"
        if sockaddr.family in LOCAL_FAMILIES.values():
            outside = False
        elif kind == "dns":
            # a lookup of "localhost" stays inside only when it goes to a loopback resolver:
            # a packet to 192.0.2.53:53 leaves, whatever name it claims to ask for
            outside = not (loopback and _only_localhost(questions))
        else:
            outside = not loopback
        if sockaddr.family not in ("ipv4", "ipv6", "vsock", "unix", "packet"):
            note = "address family not confined by the network namespace, or unknown"
        attempts.append(
            Attempt(
                kind=kind,
                family=sockaddr.family,
                address=sockaddr.address,
                port=sockaddr.port,
                is_loopback=loopback,
                outside=outside,
                dns_questions=questions,
                note=note,
                **from_call,
            )
        )
    if record.name == "sendmmsg" and _TRUNCATED_ARRAY.search(record.args):
        # strace prints at most as many messages as its string limit and then "...": the
        # destinations of the rest are unseen, so they count as outside (fail closed)
        attempts.append(
            Attempt(
                kind="send",
                family="unknown",
                address="(messages strace did not show)",
                port=None,
                is_loopback=False,
                outside=True,
                dns_questions=(),
                note="sendmmsg with more messages than strace prints; their destinations unseen",
                **from_call,
            )
        )
    return attempts


_TRUNCATED_ARRAY = re.compile(r"\},\s*\.\.\.\]")


def _setns_attempt(
    record: SyscallRecord, program: str | None, sandbox_netns: str | None
) -> Attempt | None:
    """A ``setns`` that could enter a network namespace (nstype NEWNET or 0).

    Entering the sandbox's own namespace (``sandbox_netns``, e.g. ``net:[4026532178]``)
    is harmless, for example after a program made a nested namespace; any other
    target is an attempt to leave the isolation.
    """
    nstype = record.args.rsplit(",", 1)[-1].strip()
    if "CLONE_NEWNET" not in nstype and nstype != "0":
        return None
    target = record.fd
    if sandbox_netns is not None and target == sandbox_netns:
        outside, note = False, "entered the sandbox's own network namespace"
    elif record.ok:
        outside, note = True, "left the isolated network namespace: later traffic was NOT isolated"
    else:
        outside, note = True, "tried to enter another network namespace"
    return Attempt(
        kind="setns",
        family="netns",
        protocol=None,
        address=target,
        port=None,
        syscall="setns",
        result=record.result,
        pid=record.pid,
        program=program,
        is_loopback=False,
        outside=outside,
        note=note,
        index=record.index,
    )


def _open_path(record: SyscallRecord) -> str | None:
    strings = strings_in(record.args)
    return _text(strings[0]) if strings else None


class _Programs:
    """Which program each pid was running at each point of the trace."""

    def __init__(self) -> None:
        self.execs: dict[int, list[tuple[int, str]]] = {}
        self.parents: dict[int, tuple[int, int]] = {}

    def exec(self, pid: int, index: int, path: str) -> None:
        self.execs.setdefault(pid, []).append((index, path))

    def fork(self, parent: int, index: int, child: int) -> None:
        self.parents.setdefault(child, (parent, index))

    def at(self, pid: int, index: int) -> str | None:
        for _ in range(64):  # bounded walk up the process tree
            before = [path for i, path in self.execs.get(pid, []) if i <= index]
            if before:
                return before[-1]
            if pid not in self.parents:
                return None
            pid, index = self.parents[pid]
        return None


def summarise(
    records: Iterable[SyscallRecord], *, sandbox_netns: str | None = None
) -> TraceSummary:
    """Attempts, lookup hints, exec events and the process tree of one trace.

    ``sandbox_netns`` is the id of the sandbox's network namespace (``net:[N]``), so a
    ``setns`` back into it is not mistaken for an escape.
    """
    ordered = sorted(records, key=lambda r: r.index)
    programs = _Programs()
    execs: list[ExecEvent] = []
    for record in ordered:
        if record.name in EXEC_CALLS:
            strings = strings_in(record.args)
            if strings:
                path = _text(strings[0])
                execs.append(ExecEvent(record.index, record.pid, path, record.ok))
                if record.ok:
                    programs.exec(record.pid, record.index, path)
        elif record.name in FORK_CALLS and record.retval is not None and record.retval > 0:
            programs.fork(record.pid, record.index, record.retval)
    attempts: list[Attempt] = []
    hints: list[LookupHint] = []
    sockets = _Sockets()
    for record in ordered:
        if record.name == "socket" and record.ok:
            sockets.created(record)
        elif record.name in DESTINATION_CALLS:
            attempts.extend(_attempts_from(record, programs.at(record.pid, record.index), sockets))
        elif record.name == "setns":
            escape = _setns_attempt(record, programs.at(record.pid, record.index), sandbox_netns)
            if escape is not None:
                attempts.append(escape)
        elif record.name in OPEN_CALLS:
            opened = _open_path(record)
            if opened and opened.startswith(NAMESERVICE_FILES):
                hints.append(
                    LookupHint(
                        record.pid, programs.at(record.pid, record.index), opened, record.result
                    )
                )
    parents = {child: parent for child, (parent, _) in programs.parents.items()}
    return TraceSummary(attempts=attempts, hints=hints, execs=execs, parents=parents)
