"""Regenerate ``sample-trace.log``: a real strace log used by the parser tests.

Run (needs root or user namespaces, and strace)::

    PYTHONPATH=src python tests/sandbox/data/make_sample_trace.py

The traced child only tries 192.0.2.0/24, 2001:db8::/32 and loopback, inside the
isolated namespace. It exercises every shape the parser must handle: TCP/UDP/IPv6
connects, sendto/sendmsg with an address, a DNS query through a loopback stub resolver
(sendmmsg on a connected socket), Unix and abstract sockets, netlink, a thread, a
subprocess (vfork), os.fork, and a setns back into the sandbox's own network namespace.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from allegiance.sandbox.egress import run_isolated

CHILD = r"""
import ctypes, os, socket, subprocess, sys, threading

def attempt(family, kind, address):
    s = socket.socket(family, kind)
    try:
        s.connect(address)
    except OSError:
        pass
    finally:
        s.close()

attempt(socket.AF_INET, socket.SOCK_STREAM, ("192.0.2.1", 80))
attempt(socket.AF_INET6, socket.SOCK_STREAM, ("2001:db8::1", 443))
attempt(socket.AF_INET6, socket.SOCK_STREAM, ("::ffff:192.0.2.3", 443))
attempt(socket.AF_UNIX, socket.SOCK_STREAM, "/nonexistent/egress-test.sock")
attempt(socket.AF_UNIX, socket.SOCK_STREAM, "\0egress-test-abstract")
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
query = bytes.fromhex("1234010000010000000000000974656c656d65747279076578616d706c650000010001")
for send in (lambda: u.sendto(query, ("192.0.2.53", 53)),
             lambda: u.sendmsg([b"hello"], [], 0, ("192.0.2.9", 9))):
    try:
        send()
    except OSError:
        pass
n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
n.sendto(b"\0" * 16, (0, 0))
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
nb = socket.socket()
nb.setblocking(False)
nb.connect_ex(server.getsockname())
t = threading.Thread(target=attempt, args=(socket.AF_INET, socket.SOCK_STREAM, ("192.0.2.10", 81)))
t.start(); t.join()
subprocess.run([sys.executable, "-c",
                "import socket; socket.socket().connect_ex(('192.0.2.7', 8080))"], check=True)
pid = os.fork()
if pid == 0:
    attempt(socket.AF_INET, socket.SOCK_STREAM, ("192.0.2.8", 8081))
    os._exit(0)
os.waitpid(pid, 0)
# A DNS lookup through a loopback stub resolver, as on systemd-resolved hosts: give this
# process its own mount namespace with a resolv.conf that says 127.0.0.53.
libc = ctypes.CDLL(None, use_errno=True)
conf = sys.argv[1]
if (libc.unshare(0x00020000) == 0
        and libc.mount(b"none", b"/", None, 0x4000 | 0x40000, None) == 0
        and libc.mount(conf.encode(), b"/etc/resolv.conf", None, 0x1000, None) == 0):
    try:
        socket.getaddrinfo("telemetry.example.com", 443, type=socket.SOCK_STREAM)
    except OSError:
        pass
# setns: make a nested network namespace, then return to the sandbox's own one.
own = os.open("/proc/self/ns/net", os.O_RDONLY)
if libc.unshare(0x40000000) == 0:
    libc.setns(own, 0x40000000)
"""


def main() -> None:
    out = Path(__file__).with_name("sample-trace.log")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "child.py")
        script.write_text(CHILD)
        conf = Path(tmp, "resolv.conf")
        conf.write_text("nameserver 127.0.0.53\noptions timeout:1 attempts:1\n")
        result = run_isolated([sys.executable, str(script), str(conf)], trace_file=out)
    # The parser skips lines that do not start with a pid, so a header is safe; the
    # tests read the sandbox's netns id from it.
    out.write_text(f"# sandbox netns: {result.netns}\n" + out.read_text())
    print(f"wrote {out}: {len(result.attempts)} attempts, exit {result.exit_code}")


if __name__ == "__main__":
    main()
