"""Throughput of the engine against ../shared/bench/stub_server.py, and harness overhead on
the embedded model. Prints Markdown tables with the date and machine.

    python benchmarks/throughput.py            # HTTP part + --help timing
    python benchmarks/throughput.py --local    # also the embedded-model overhead (≈1 min)

Every HTTP measurement runs the real `allegiance run` command in a subprocess, so start-up
(imports, suite loading, store creation) is included, as it is for the peers measured by
../shared/bench/run_peers.sh.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine_line

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stub(latency_ms: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "stub_server.py"),
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("stub server did not start")


def timed_run(prompts: Path, url: str, concurrency: int, workdir: Path) -> float:
    db = workdir / f"bench-{concurrency}-{time.time_ns()}.db"
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "allegiance",
            "run",
            str(prompts),
            "-t",
            f"openai:stub-model@{url}",
            "--concurrency",
            str(concurrency),
            "--no-report",
            "--db",
            str(db),
            "--retries",
            "0",
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or " 0 errors" not in result.stdout:
        raise SystemExit(f"run failed: {result.stdout}\n{result.stderr}")
    return elapsed


def http_tables(repeats: int) -> None:
    prompts_file = BENCH / "prompts.txt"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        prompts = workdir / "prompts.txt"
        lines = [line for line in prompts_file.read_text().splitlines() if line.strip()][:400]
        prompts.write_text("\n".join(lines) + "\n")
        stub, url = start_stub(100)
        try:
            print(
                "\n400 prompts, stub latency 100 ms, start-up included, median of",
                repeats,
                "runs\n",
            )
            print("| concurrency | wall | requests/s | ideal | × ideal |")
            print("|---|---|---|---|---|")
            for concurrency in (1, 8, 32, 128):
                runs = 1 if concurrency == 1 else repeats
                wall = statistics.median(
                    timed_run(prompts, url, concurrency, workdir) for _ in range(runs)
                )
                ideal = len(lines) * 0.1 / concurrency
                print(
                    f"| {concurrency} | {wall:.2f} s | {len(lines) / wall:.0f} | {ideal:.2f} s | {wall / ideal:.2f} |",
                    flush=True,
                )
        finally:
            stub.terminate()
            stub.wait()

        stub, url = start_stub(0)
        try:
            many = workdir / "many.txt"
            many.write_text("\n".join(f"{lines[i % len(lines)]} #{i}" for i in range(4000)) + "\n")
            print(
                "\n4,000 prompts, stub latency 0 ms, concurrency 256 (sustained, start-up included)\n"
            )
            print("| run | wall | requests/s |")
            print("|---|---|---|")
            for index in range(repeats):
                wall = timed_run(many, url, 256, workdir)
                print(f"| {index + 1} | {wall:.2f} s | {4000 / wall:.0f} |", flush=True)
        finally:
            stub.terminate()
            stub.wait()


def help_time() -> None:
    times = []
    for _ in range(7):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "allegiance", "--help"], capture_output=True, check=True
        )
        times.append(time.perf_counter() - started)
    print(f"\n`allegiance --help`: median {statistics.median(times) * 1000:.0f} ms over 7 runs\n")


def local_overhead(n_prompts: int, max_tokens: int) -> None:
    """Tokens/s of the raw runtime vs the same requests through the engine and store."""
    import xllamacpp

    from allegiance.config import Config
    from allegiance.engine.plan import PlannedTarget, plan_attempts
    from allegiance.engine.runner import RunSettings, execute
    from allegiance.store.sqlite import Store
    from allegiance.suites.loader import load_suite
    from allegiance.targets.resolve import build_target, target_id

    target, _ = build_target("local:qwen2.5-coder-0.5b", Config())
    target.warm()  # type: ignore[attr-defined]
    suite = load_suite("smoke")
    prompts = [p for p in suite.probes][:n_prompts]
    server = target._load()  # type: ignore[attr-defined]
    assert isinstance(server, xllamacpp.Server)

    def direct(seed: int) -> tuple[int, float]:
        tokens = 0
        started = time.perf_counter()
        for probe in prompts:
            answer = server.handle_chat_completions(
                {
                    "messages": list(probe.messages),
                    "max_tokens": max_tokens,
                    "temperature": 0.0,
                    "seed": seed,
                }
            )
            tokens += answer["usage"]["completion_tokens"]
        return tokens, time.perf_counter() - started

    def engine(seed: int) -> tuple[int, float]:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "o.db")
            tid = target_id(target.identity())
            store.register_target(tid, target.name, "local", target.identity())
            store.begin_run("o", "bench", {})
            from allegiance.suites.loader import Suite

            one = Suite("smoke", "1", "", tuple(prompts))
            specs = plan_attempts(
                [one], [PlannedTarget(target.name, tid)], max_tokens=max_tokens, seed=seed
            )
            started = time.perf_counter()
            asyncio.run(
                execute(specs, {target.name: target}, store, "o", RunSettings(progress=False))
            )
            elapsed = time.perf_counter() - started
            tokens = sum(a.completion_tokens or 0 for a in store.run_attempts("o"))
            store.close()
            return tokens, elapsed

    direct(1)  # warm caches
    rows = []
    for seed in (11, 12, 13):
        d_tokens, d_time = direct(seed)
        e_tokens, e_time = engine(seed)
        rows.append((d_tokens / d_time, e_tokens / e_time))
    d = statistics.median(r[0] for r in rows)
    e = statistics.median(r[1] for r in rows)
    print(
        f"\nEmbedded Qwen2.5-Coder-0.5B, {len(prompts)} prompts × max {max_tokens} tokens, median of 3\n"
    )
    print("| path | tokens/s |")
    print("|---|---|")
    print(f"| xllamacpp called directly | {d:.1f} |")
    print(f"| through allegiance's engine and store | {e:.1f} |")
    print(f"| harness overhead | {100 * (1 - e / d):.1f} % |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--local", action="store_true", help="also measure the embedded-model overhead"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# allegiance throughput\n\n{machine_line()}")
    help_time()
    if not (BENCH / "stub_server.py").exists():
        raise SystemExit(f"{BENCH}/stub_server.py not found")
    http_tables(args.repeats)
    if args.local:
        os.environ.setdefault("ALLEGIANCE_QUIET", "1")
        local_overhead(8, 64)


if __name__ == "__main__":
    main()
