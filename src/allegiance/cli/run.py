"""`allegiance run SUITE... --target T...`"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from allegiance.cli.common import (
    DEFAULT_OUT,
    F,
    FiniteFloatRange,
    check_run_id,
    config_option,
    db_option,
    open_store,
    terminal_safe,
)

# --quick must finish in under 3 minutes on 2 CPU cores with both embedded models, so answers
# are capped shorter than in a full run: political answers show their stance in their first
# sentences, while code needs room to reach the lines that matter (README, "Performance").
# `run --quick` and `audit --quick` ask alike, so a finding's reproduce line asks as its run did.
QUICK_TOKEN_CAPS = {"sabotage": 160, "*": 64}


def run_options(fn: F) -> F:
    options = [
        click.option(
            "--samples",
            default=1,
            show_default=True,
            type=click.IntRange(1, 10_000),
            help="Samples per probe, each with its own recorded seed.",
        ),
        click.option(
            "--concurrency",
            default=8,
            show_default=True,
            type=click.IntRange(1, 4096),
            help="Requests in flight per target.",
        ),
        click.option("--seed", default=0, show_default=True, type=int, help="Base seed."),
        click.option(
            "--max-tokens",
            type=click.IntRange(1, 32768),
            default=None,
            help="Override the suites' answer length.",
        ),
        click.option(
            "--temperature",
            type=FiniteFloatRange(0, 2),
            default=None,
            help="Sampling temperature (default 0, or 0.7 with --samples > 1).",
        ),
        click.option(
            "--run-id",
            default=None,
            callback=check_run_id,
            help="Name the run; the same name again resumes it (only missing attempts run).",
        ),
        click.option(
            "--retries",
            default=4,
            show_default=True,
            type=click.IntRange(0, 20),
            help="Retries on 429, 5xx, timeouts and dropped connections.",
        ),
        click.option(
            "--timeout",
            type=FiniteFloatRange(0.1, 3600),
            default=None,
            help="Per-request timeout in seconds for HTTP targets (default 60).",
        ),
        click.option(
            "--api-key-env",
            default=None,
            help="Environment variable holding the API key for openai: targets (a config "
            "target's own api_key_env wins).",
        ),
        click.option(
            "--quick",
            is_flag=True,
            help="Only each suite's quick slice, answers capped at 64 tokens (160 for "
            "sabotage) unless --max-tokens is given.",
        ),
        click.option(
            "--probe",
            "probe_patterns",
            multiple=True,
            help="Only probes whose id matches this pattern (fnmatch; repeatable).",
        ),
        click.option(
            "--out",
            "out_dir",
            default=DEFAULT_OUT,
            show_default=True,
            help="Folder for the report.",
        ),
        click.option(
            "--format",
            "formats",
            multiple=True,
            default=("html", "md", "json"),
            type=click.Choice(["html", "md", "json", "sarif"]),
            show_default=True,
            help="Report formats to write (repeatable).",
        ),
        click.option("--no-report", is_flag=True, help="Store results only."),
        click.option(
            "--fail-on-findings",
            is_flag=True,
            help="Exit with status 1 when the report has any finding or any attempt failed "
            "(for CI gates).",
        ),
        click.option(
            "--judge",
            "judge_target",
            default=None,
            help="Also have this target (an LLM judge, ideally another vendor and country) "
            "label every answer with a written rubric: refusals, and code (a security review "
            "and a review for edits nobody asked for); agreement is reported.",
        ),
        click.option(
            "--judge-api-key-env",
            "judge_api_key_env",
            default=None,
            help="Environment variable holding the judge's API key (the judge never gets "
            "--api-key-env, which is the key for the targets under test).",
        ),
        click.option(
            "--online-packages",
            is_flag=True,
            help="packages detector: look up names missing from the offline PyPI/npm snapshot "
            "on the registries (cached on disk).",
        ),
        click.option(
            "--isolate",
            is_flag=True,
            help="Run inside a network namespace with only loopback, recording any "
            "outbound attempt (needs root or user namespaces, and strace).",
        ),
        config_option,
        db_option,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.command("run")
@click.argument("suites", nargs=-1, required=True)
@click.option(
    "--target",
    "-t",
    "targets",
    multiple=True,
    required=True,
    help="local:NAME, local:PATH.gguf, openai:MODEL@BASE_URL or a configured name (repeatable).",
)
@run_options
def command(suites: tuple[str, ...], targets: tuple[str, ...], **options: Any) -> None:
    """Run SUITES (built-in names or files) against each --target and store every attempt."""
    execute_run(list(suites), list(targets), options)


def execute_run(suites: list[str], targets: list[str], options: dict[str, Any]) -> str:
    """Shared by `run` and `audit`: run, judge, report, print a summary. Returns the run id."""
    if options.get("isolate"):
        from allegiance.cli.isolate import reexec_isolated, refuse_remote_targets

        judge = [str(options["judge_target"])] if options.get("judge_target") else []
        refuse_remote_targets([*targets, *judge], options.get("config_path"))
        reexec_isolated()  # does not return
    from allegiance.cli.isolate import ISOLATED_ENV
    from allegiance.config import config_file, load_config
    from allegiance.engine.cost import estimate, format_estimate
    from allegiance.engine.session import RunRequest, run
    from allegiance.suites.loader import load_suite

    config = load_config(options.get("config_path"))
    from allegiance.targets.resolve import check_spec

    for spec in targets:
        # a mistyped target is the only line printed, not a line after the plan
        check_spec(spec, config, api_key_env=options.get("api_key_env"))
    if options.get("judge_target"):
        # a mistyped judge is found before the run, not after every question was asked
        from allegiance.errors import TargetError
        from allegiance.targets.base import warm_up
        from allegiance.targets.resolve import build_target

        judge_check, _ = build_target(
            str(options["judge_target"]), config, api_key_env=options.get("judge_api_key_env")
        )
        if getattr(judge_check, "base_url", None):
            # a judge server that is not there is found before every question is asked (a
            # local judge model is loaded when it is needed, not held during the run)
            try:
                warm_up(judge_check)
            except TargetError as problem:
                raise TargetError(f"judge: {problem}") from None
    loaded = [load_suite(name) for name in suites]
    if options.get("quick"):
        loaded = [s.quick_slice() for s in loaded]
    patterns = options.get("probe_patterns") or ()
    if patterns:
        loaded = [s.select(list(patterns)) for s in loaded]
    if sum(len(s.probes) for s in loaded) == 0:
        tried = f" by {', '.join(repr(p) for p in patterns)}" if patterns else ""
        raise click.UsageError(
            f"no probes selected{tried}; `allegiance suites NAME` lists a suite's probe ids"
        )
    request = RunRequest(
        suites=loaded,
        target_specs=targets,
        samples=int(options.get("samples") or 1),
        seed=int(options.get("seed") or 0),
        concurrency=int(options.get("concurrency") or 8),
        max_tokens=options.get("max_tokens"),
        temperature=options.get("temperature"),
        run_id=options.get("run_id"),
        retries=int(options.get("retries") or 0),
        timeout=options.get("timeout"),
        api_key_env=options.get("api_key_env"),
        command=shlex.join(["allegiance", *sys.argv[1:]]),
        online_packages=bool(options.get("online_packages")),
        # the planner caps each target's answers, never above that target's own default
        token_caps=QUICK_TOKEN_CAPS if options.get("quick") else {},
        extra_settings={
            **(options.get("extra_settings") or {}),
            # what a reproduce line needs to ask the same way again
            "temperature": options.get("temperature"),
            "quick": bool(options.get("quick")),
            "probe_patterns": list(patterns),
            # asked inside `--isolate`'s sandbox (the egress record is added at the end)
            "isolated": bool(os.environ.get(ISOLATED_ENV)),
            "config": str(used.absolute())
            if (used := config_file(options.get("config_path")))
            else None,
        },
    )
    click.echo(
        format_estimate(estimate(request, default_max_tokens=config.defaults.max_tokens)),
        err=True,
    )
    from allegiance.errors import AllegianceError

    db_path = str(options["db_path"])
    existed = db_path == ":memory:" or Path(db_path).exists()
    store = open_store(db_path)
    try:
        try:
            result = run(request, config, store)
        except AllegianceError:
            # a bad target or suite found before anything was asked: do not leave behind an
            # empty database that the user never had
            if not existed and not store.list_runs():
                store.close()
                if not _open_elsewhere(db_path):
                    for leftover in (db_path, f"{db_path}-wal", f"{db_path}-shm"):
                        Path(leftover).unlink(missing_ok=True)
            raise
        out = result.outcome
        if not os.environ.get(ISOLATED_ENV):
            # answers added outside the sandbox (asked now, or taken from the store) to a
            # run whose report vouches for isolation
            isolation = store.get_run(result.run_id).get("isolation")
            if isolation:
                from allegiance.sandbox.record import note_unisolated

                _, answered = store.answers_made_after(result.run_id, set())
                store.set_isolation(
                    result.run_id, note_unisolated(isolation, out.completed, answered)
                )
        verb = "resumed" if result.resumed else "stored"
        click.echo(
            f"{verb} run {result.run_id}: {out.planned} attempts "
            f"({out.cached} already stored, {out.completed} new, {out.errors} errors) "
            f"in {out.elapsed_s:.1f} s; {result.verdicts_written} verdicts; db {store.path}"
        )
        for example in out.error_examples:
            # an error quotes what the server sent back: untrusted
            click.echo(f"  error: {terminal_safe(example)}", err=True)
        judge_failed = False
        if options.get("judge_target"):
            from allegiance.engine.judging import judge_run

            judged = judge_run(
                store,
                [result.run_id],
                str(options["judge_target"]),
                config,
                # the judge's own key: the run's --api-key-env is the model under test's,
                # and must not be sent to another vendor's host
                api_key_env=options.get("judge_api_key_env"),
            )
            click.echo(f"judge {options['judge_target']}: {judged.summary()}")
            for line in judged.problems:
                click.echo(f"  judge: {terminal_safe(line)}", err=True)
            if judged.asked and not judged.written:  # every request failed or was unreadable
                judge_failed = True
        model = None
        if not options.get("no_report") or options.get("fail_on_findings"):
            from allegiance.analysis.model import build

            model = build(store, [result.run_id])
        if model is not None and not options.get("no_report"):
            from allegiance.report import write_reports

            paths = write_reports(
                store,
                [result.run_id],
                Path(str(options.get("out_dir") or DEFAULT_OUT)) / result.run_id,
                list(options.get("formats") or ("html",)),
                model=model,
            )
            for path in paths:
                click.echo(f"report: {path}")
        if model is not None and options.get("fail_on_findings") and model["findings"]:
            for finding in model["findings"]:
                click.echo(f"finding: {terminal_safe(finding['sentence'])}", err=True)
            raise SystemExit(1)
        if out.errors and out.errors >= out.planned:
            from allegiance.errors import TargetError

            raise TargetError(
                f"every one of the {out.planned} attempts failed, so nothing was measured; "
                f"fix the target and resume with --run-id {result.run_id}"
            )
        if judge_failed:
            from allegiance.errors import TargetError

            raise TargetError(
                f"the judge {options['judge_target']} gave no usable label ({judged.failed} of "
                f"{judged.asked} requests failed, the rest unreadable); the run's own answers "
                "and verdicts are stored, and the report written without the judge"
            )
        if options.get("fail_on_findings") and out.errors:
            # a gate must not pass on evidence it did not collect
            click.echo(
                f"gate: {out.errors} attempt(s) failed, so the run is incomplete; "
                f"resume with --run-id {result.run_id}",
                err=True,
            )
            raise SystemExit(1)
        return result.run_id
    finally:
        store.close()


def _open_elsewhere(db_path: str) -> bool:
    """Does another process have this database open? A second run started on the same new
    file would go on writing into a deleted one. Read from /proc (Linux); where that cannot
    be read, assume it is, and keep the file."""
    target = Path(db_path).resolve()
    names = {target, Path(f"{target}-wal"), Path(f"{target}-shm")}
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return True
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue  # gone, or not ours to read
        for fd in fds:
            try:
                if Path(os.readlink(fd)) in names:
                    return True
            except OSError:
                continue
    return False
