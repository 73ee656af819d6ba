"""``allegiance egress`` and ``run_isolated`` for real: namespaces, strace, real children.

Every outside address tried here is in 192.0.2.0/24 (TEST-NET-1, RFC 5737) and is tried
only inside the isolated namespace, where it cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from egress_testlib import CLI_CODE, SRC, RunCli

from allegiance.sandbox.egress import CommandError, EgressResult, run_isolated

pytestmark = pytest.mark.netns
PY = sys.executable


def script(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def by_destination(result: EgressResult) -> dict[str, list]:
    found: dict[str, list] = {}
    for attempt in result.attempts:
        found.setdefault(attempt.destination, []).append(attempt)
    return found


OUTSIDE_CHILD = """
    import ctypes, socket, sys

    # TCP to a documentation address.
    tcp = socket.socket()
    print("tcp", tcp.connect_ex(("192.0.2.1", 80)))
    # A hand-made DNS query for telemetry.example, sent over UDP to a resolver address.
    query = bytes.fromhex("beef01000001000000000000") + b"\\x09telemetry\\x07example\\x00\\x00\\x01\\x00\\x01"
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.sendto(query, ("192.0.2.53", 53))
    except OSError as error:
        print("udp", error.errno)
    # Resolve a hostname through the C library. In a private mount namespace, point
    # /etc/resolv.conf at 192.0.2.53 so the resolver it tries is a documentation address.
    libc = ctypes.CDLL(None, use_errno=True)
    ok = (libc.unshare(0x00020000) == 0
          and libc.mount(b"none", b"/", None, 0x4000 | 0x40000, None) == 0
          and libc.mount(sys.argv[1].encode(), b"/etc/resolv.conf", None, 0x1000, None) == 0)
    if not ok:
        sys.exit(f"cannot set up the test resolver: errno {ctypes.get_errno()}")
    try:
        socket.getaddrinfo("telemetry.example.com", 443, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as error:
        print("resolve failed", error)
"""


def test_outside_tcp_udp_dns_and_resolution_are_recorded_exit_1(
    tmp_path: Path, run_cli: RunCli
) -> None:
    child = script(tmp_path, "outside.py", OUTSIDE_CHILD)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.53\noptions timeout:1 attempts:1\n")
    report = tmp_path / "egress.json"
    done = run_cli(
        "egress",
        "--format",
        "json",
        "--out",
        str(report),
        "--isolation",
        "userns",
        "--",
        PY,
        str(child),
        str(resolv),
    )
    assert done.returncode == 1, done.stderr
    assert "tcp 101" in done.stdout  # the child's own output streamed through (ENETUNREACH)
    data = json.loads(report.read_text())
    assert data["exit_code"] == 0 and data["verdict_exit_code"] == 1
    rows = {
        (a["kind"], a["protocol"], a["destination"], a["syscall"], a["result"])
        for a in data["attempts"]
        if a["outside"]
    }
    assert ("connect", "tcp", "192.0.2.1:80", "connect", "ENETUNREACH") in rows
    assert ("dns", "udp", "192.0.2.53:53", "sendto", "ENETUNREACH") in rows
    # getaddrinfo: glibc connects a UDP socket to the resolver from resolv.conf
    assert ("dns", "udp", "192.0.2.53:53", "connect", "ENETUNREACH") in rows
    asked = [q for a in data["attempts"] for q in a["dns_questions"]]
    assert {"name": "telemetry.example", "type": "A"} in asked
    assert all(not a["is_loopback"] for a in data["attempts"] if a["family"] in ("ipv4", "ipv6"))
    assert "/etc/resolv.conf" in {h["path"] for h in data["lookup_hints"]}
    assert "CLONE_NEWNET" in data["method"] and "strace" in data["method"]


LOOPBACK_CHILD = """
    import socket, sys, threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"pong " + conn.recv(16))

    thread = threading.Thread(target=serve)
    thread.start()
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"ping")
        print(client.recv(64).decode(), port, flush=True)
    thread.join()
    print("to stderr", file=sys.stderr)
"""


def test_loopback_only_exits_0_and_streams_output(tmp_path: Path) -> None:
    child = script(tmp_path, "loopback.py", LOOPBACK_CHILD)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        result = run_isolated([PY, str(child)], stdout=stdout, stderr=stderr)
    printed = out.read_text().split()
    assert printed[:2] == ["pong", "ping"]
    port = int(printed[2])
    assert result.exit_code == 0 and result.verdict_exit_code == 0
    assert result.outside_attempts == []
    (connect,) = by_destination(result)[f"127.0.0.1:{port}"]
    assert (connect.syscall, connect.protocol, connect.result, connect.is_loopback) == (
        "connect",
        "tcp",
        "ok",
        True,
    )
    assert connect.program is not None and connect.program.endswith(Path(PY).name)
    # the command's stderr reached ours; strace's own messages did not
    assert err.read_text() == "to stderr\n"


def test_loopback_only_through_the_cli_prints_a_table(tmp_path: Path, run_cli: RunCli) -> None:
    child = script(tmp_path, "loopback.py", LOOPBACK_CHILD)
    done = run_cli("egress", "--", PY, str(child))
    assert done.returncode == 0, done.stderr
    assert "loopback  connect  tcp" in done.stdout
    assert "Verdict: nothing beyond loopback was attempted (exit 0)." in done.stdout


def test_json_on_stdout_stays_parseable_when_the_command_prints(
    tmp_path: Path, run_cli: RunCli
) -> None:
    """Before: with --format json and no --out, the command's own output came first on
    stdout and the report could not be parsed."""
    import json

    done = run_cli("egress", "--format", "json", "--", PY, "-c", "print('hello from the command')")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 0
    assert "hello from the command" in done.stderr


FORKING_CHILD = """
    import os, socket, subprocess, sys

    # a grandchild through subprocess, and a great-grandchild through a shell
    subprocess.run([sys.executable, "-c",
                    "import socket; socket.socket().connect_ex(('192.0.2.7', 8080))"], check=True)
    subprocess.run(["sh", "-c", sys.executable + " -c \\"import socket; "
                    "socket.socket().connect_ex(('192.0.2.9', 9090))\\""], check=True)
    pid = os.fork()
    if pid == 0:
        socket.socket().connect_ex(("192.0.2.8", 8081))
        os._exit(0)
    os.waitpid(pid, 0)
"""


def test_attempts_from_descendants_are_recorded(tmp_path: Path) -> None:
    child = script(tmp_path, "forking.py", FORKING_CHILD)
    result = run_isolated([PY, str(child)])
    assert result.exit_code == 0 and result.verdict_exit_code == 1
    found = by_destination(result)
    pids = {d: found[d][0].pid for d in ("192.0.2.7:8080", "192.0.2.9:9090", "192.0.2.8:8081")}
    assert all(found[d][0].result == "ENETUNREACH" for d in pids)
    parents = {p["pid"]: p["parent"] for p in result.processes}
    top = next(p["pid"] for p in result.processes if p["parent"] is None)
    assert len(set(pids.values()) | {top}) == 4

    def ancestors(pid: int) -> list[int]:
        chain = []
        while parents.get(pid) is not None:
            pid = parents[pid]
            chain.append(pid)
        return chain

    for pid in pids.values():
        assert top in ancestors(pid)
    assert len(ancestors(pids["192.0.2.9:9090"])) == 2  # command -> sh -> python


ISOLATION_CHILD = """
    import socket, sys
    print(sorted(name for _, name in socket.if_nameindex()))
    print(socket.socket().connect_ex(("127.0.0.1", int(sys.argv[1]))))
"""


def test_loopback_inside_is_not_the_hosts_loopback(tmp_path: Path) -> None:
    host_server = socket.socket()
    host_server.bind(("127.0.0.1", 0))
    host_server.listen()
    host_server.settimeout(0.2)
    port = host_server.getsockname()[1]
    child = script(tmp_path, "isolation.py", ISOLATION_CHILD)
    out = tmp_path / "out.txt"
    with host_server, out.open("w") as stdout:
        result = run_isolated([PY, str(child), str(port)], stdout=stdout)
        with pytest.raises(TimeoutError):
            host_server.accept()  # nothing from inside reached the host
    interfaces, errno_value = out.read_text().splitlines()
    assert interfaces == "['lo']"
    assert int(errno_value) == 111  # ECONNREFUSED: nothing listens on the sandbox's own lo
    (attempt,) = by_destination(result)[f"127.0.0.1:{port}"]
    assert attempt.result == "ECONNREFUSED" and attempt.is_loopback


ESCAPE_CHILD = """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    before = os.readlink("/proc/self/ns/net")
    try:
        fd = os.open("/proc/1/ns/net", os.O_RDONLY)
        print("open", "ok", libc.setns(fd, 0x40000000), ctypes.get_errno())
    except OSError as error:
        print("open", error.errno)
    print("unshare", libc.unshare(0x40000000), ctypes.get_errno())
    print(before, os.readlink("/proc/self/ns/net"))
    status = open("/proc/self/status").read()
    print(next(l.split()[1] for l in status.splitlines() if l.startswith("CapBnd")))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="root mode needs root")
def test_root_mode_cannot_rejoin_the_host_network(tmp_path: Path) -> None:
    child = script(tmp_path, "escape.py", ESCAPE_CHILD)
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        result = run_isolated([PY, str(child)], stdout=stdout, isolation="root")
    assert result.isolation == "root"
    lines = out.read_text().splitlines()
    assert lines[0] in ("open 13", "open 1") or lines[0].endswith(" -1 1")  # EACCES/EPERM
    assert lines[1] == "unshare -1 1"  # EPERM: no CAP_SYS_ADMIN
    before, after = lines[2].split()
    assert before == after == result.netns
    assert not int(lines[3], 16) & (1 << 21)  # CAP_SYS_ADMIN is not in the bounding set
    # nor what reaches into host processes: becoming their user (a review wrote into a host
    # process's memory through /proc/PID/mem after setuid), signalling them, file overrides
    for bit in (1, 5, 6, 7, 17, 19):  # DAC_OVERRIDE, KILL, SETGID, SETUID, SYS_RAWIO, PTRACE
        assert not int(lines[3], 16) & (1 << bit), bit


def test_command_exit_code_is_reported_not_ours(tmp_path: Path, run_cli: RunCli) -> None:
    kept = tmp_path / "raw-trace.log"
    result = run_isolated(["sh", "-c", "exit 3"], trace_file=kept)
    assert result.exit_code == 3 and result.verdict_exit_code == 0
    assert " execve(" in kept.read_text()  # --trace-file keeps strace's raw log
    done = run_cli("egress", "--", "sh", "-c", "exit 3")
    assert done.returncode == 0 and "command exited 3" in done.stdout


def test_timeout_kills_the_command_and_everything_it_started() -> None:
    # unique per process: another test run on the machine has its own sleeps (a CI run
    # beside a developer's found theirs)
    marker = f"987.{os.getpid()}"
    started = time.monotonic()
    result = run_isolated(["sh", "-c", f"sleep {marker} & sleep {marker}"], timeout=0.5)
    assert result.timed_out and result.exit_code == -9
    assert time.monotonic() - started < 10

    def leftovers() -> list[str]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                continue
        return found

    assert leftovers() == []


def test_inherited_network_socket_is_flagged(tmp_path: Path) -> None:
    # A blind spot, shown for real: a socket opened outside the namespace and handed
    # in as stdout still reaches the (host loopback) peer, so we warn about it.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with server, socket.create_connection(server.getsockname()) as client:
        peer, _ = server.accept()
        with peer:
            result = run_isolated(["sh", "-c", "echo through-the-socket"], stdout=client.fileno())
            peer.settimeout(5)
            assert peer.recv(64) == b"through-the-socket\n"
    assert any("stdout is a network socket" in w for w in result.warnings)
    assert result.attempts == []  # write() on an inherited socket names no destination


def test_missing_binary_is_one_line_exit_2(tmp_path: Path, run_cli: RunCli) -> None:
    done = run_cli("egress", "--", "no-such-command-egress-test")
    assert done.returncode == 2
    assert done.stderr == (
        "allegiance: error: command not found: 'no-such-command-egress-test' is not on PATH\n"
    )
    not_executable = tmp_path / "data.txt"
    not_executable.write_text("x")
    with pytest.raises(CommandError, match="not an executable"):
        run_isolated([str(not_executable)])


@pytest.mark.skipif(
    not (shutil.which("unshare") and shutil.which("setpriv")),
    reason="needs util-linux unshare and setpriv",
)
def _in_user_namespace(inner: str) -> subprocess.CompletedProcess[str]:
    """Run the shell command ``inner`` as root of a fresh user namespace (host untouched)."""
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c", inner],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(SRC)),
        timeout=60,
        check=False,
    )


def test_no_way_to_isolate_is_one_line_exit_2(tmp_path: Path) -> None:
    # A user namespace where user namespaces are switched off (the sysctl is per
    # namespace, so the host is untouched) and every capability is dropped: neither
    # route to a network namespace is open.
    inner = (
        f"echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --inh-caps=-all "
        f"--bounding-set=-all -- {PY} -c '{CLI_CODE}' egress -- true"
    )
    done = _in_user_namespace(inner)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("allegiance: error: cannot create an isolated network namespace")
    assert "user namespaces" in done.stderr


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs util-linux unshare")
def test_auto_falls_back_to_root_mode_without_user_namespaces(tmp_path: Path) -> None:
    # As root (here: root of a user namespace) with user namespaces switched off, "auto"
    # must still isolate, using network+PID namespaces alone.
    report = tmp_path / "egress.json"
    child = "import socket; print(socket.socket().connect_ex(('192.0.2.1', 80)))"
    inner = (
        f"echo 0 > /proc/sys/user/max_user_namespaces && exec {PY} -c '{CLI_CODE}' "
        f'egress --format json --out {report} -- {PY} -c "{child}"'
    )
    done = _in_user_namespace(inner)
    assert done.returncode == 1, done.stderr
    assert done.stdout == "101\n"  # ENETUNREACH
    data = json.loads(report.read_text())
    assert data["isolation"] == "root" and "CAP_SYS_ADMIN" in data["method"]
    assert [a["destination"] for a in data["attempts"] if a["outside"]] == ["192.0.2.1:80"]
