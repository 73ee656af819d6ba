"""How much does ``allegiance egress`` slow a program down?

strace stops the traced process on every traced system call. With ``--seccomp-bpf`` the
kernel stops it only on the calls we ask for (connect, send*, exec, fork, open...), not on
every read and write. This benchmark runs one Python child that serves and makes N
loopback HTTP requests (new TCP connection each time: a connect and two sends per
request, the worst case for us) and times it:

* ``plain``: no sandbox;
* ``sandbox``: ``run_isolated`` as shipped (namespaces + strace -f --seccomp-bpf);
* ``sandbox, no seccomp-bpf``: the same with strace stopping on every system call, to
  show what the filter buys.

It prints the median of ``--repeat`` runs: wall time of the whole command (interpreter
start-up included) and the time of the request loop as measured inside the child.

    PYTHONPATH=src python benchmarks/egress_overhead.py [--requests 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from _machine import machine_line

from allegiance.sandbox import egress

CHILD = textwrap.dedent("""
    import http.client, http.server, sys, threading, time

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    count = int(sys.argv[1])
    start = time.perf_counter()
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"ok"
        conn.close()
    print(f"{time.perf_counter() - start:.6f}")
    server.shutdown()
""")


def run_plain(argv: list[str], out: Path) -> None:
    with out.open("w") as stdout:
        subprocess.run(argv, stdout=stdout, check=True)


def run_sandbox(argv: list[str], out: Path) -> None:
    with out.open("w") as stdout:
        result = egress.run_isolated(argv, stdout=stdout)
    if result.exit_code != 0 or result.outside_attempts:
        raise SystemExit(f"unexpected sandbox result: {result.to_json()}")


def measure(
    runner: Callable[[list[str], Path], None], argv: list[str], tmp: Path, repeat: int
) -> tuple[float, float]:
    walls, loops = [], []
    for i in range(repeat):
        out = tmp / f"out-{i}.txt"
        start = time.perf_counter()
        runner(argv, out)
        walls.append(time.perf_counter() - start)
        loops.append(float(out.read_text().strip()))
    return statistics.median(walls), statistics.median(loops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header = machine_line()  # before the runs: it reports the load at start

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        child = tmp / "http_child.py"
        child.write_text(CHILD)
        argv = [sys.executable, str(child), str(args.requests)]
        tracer = egress._find_tracer(os.environ.get("PATH", ""))
        rows = [
            ("plain", *measure(run_plain, argv, tmp, args.repeat)),
            ("sandbox", *measure(run_sandbox, argv, tmp, args.repeat)),
        ]
        without_filter = dataclasses.replace(tracer, seccomp_bpf=False)
        with mock.patch.object(egress, "_find_tracer", return_value=without_filter):
            rows.append(("sandbox, no seccomp-bpf", *measure(run_sandbox, argv, tmp, args.repeat)))

    base_wall, base_loop = rows[0][1], rows[0][2]
    print(header)
    print(
        f"egress overhead: {args.requests} loopback HTTP requests (new connection each), "
        f"median of {args.repeat}; {tracer.label}, Linux {platform.release()}"
    )
    print(f"{'mode':<26}{'wall s':>9}{'loop s':>9}{'per request':>14}{'loop vs plain':>15}")
    for name, wall, loop in rows:
        per = loop / args.requests * 1e6
        print(f"{name:<26}{wall:>9.2f}{loop:>9.2f}{per:>11.0f} µs{loop / base_loop:>14.1f}×")
    print(f"(plain wall {base_wall:.2f} s includes interpreter start-up)")


if __name__ == "__main__":
    main()
