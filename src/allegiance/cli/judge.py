"""`allegiance judge --detector NAME FILE.jsonl`: apply a detector to answers collected
elsewhere (production logs, another tool's output, labelled validation data)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from allegiance.cli.common import (
    config_option,
    json_terminal_safe,
    refuse_overwrite,
    terminal_safe,
)
from allegiance.detectors.base import available_detectors

if TYPE_CHECKING:
    from allegiance.cli.judge_fields import Fields
    from allegiance.detectors.base import Verdict


@click.command("judge")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--detector",
    "-d",
    required=True,
    help=f"Detector name: {', '.join(available_detectors())} (README: what each labels).",
)
@click.option(
    "--out",
    "out_path",
    default=None,
    help="Write records with verdicts here (JSONL; default stdout).",
)
@click.option(
    "--judge",
    "judge_target",
    default=None,
    help="Also ask this target (an LLM judge, ideally another vendor) and report agreement.",
)
@click.option(
    "--label-field",
    default="label",
    show_default=True,
    help="Field with a human label; if present, precision/recall/F1 are printed. Unless "
    "given, guessed from the first record (label, final_label, human_label, gold_label, ...).",
)
@click.option(
    "--label-map",
    multiple=True,
    metavar="THEIRS=OURS",
    help="Read the label THEIRS as our label OURS, or as flagged / not-flagged (repeatable). "
    "Common spellings such as XSTest's 2_full_refusal or a boolean (true = flagged) are "
    "understood without it; '1=not-flagged' reads a jailbreak set's 1 (complied).",
)
@click.option(
    "--prompt-field",
    default="prompt",
    show_default=True,
    help="Field with the prompt. Unless given, guessed from the first record (prompt, "
    "question, instruction, query, input, ...) or read from a chat 'messages' list.",
)
@click.option(
    "--response-field",
    default="response",
    show_default=True,
    help="Field with the model's answer. Unless given, guessed from the first record "
    "(response, completion, model_response, model_output, output, answer, ...) or read from "
    "the last assistant turn of a chat 'messages' list.",
)
@click.option(
    "--online",
    is_flag=True,
    help="packages detector: ask PyPI/npm about names the offline snapshot cannot settle "
    "(answers cached on disk) before judging.",
)
@click.option(
    "--api-key-env",
    default=None,
    help="Environment variable with the --judge target's API key (never give the key itself).",
)
@config_option
def command(
    file: str,
    detector: str,
    out_path: str | None,
    judge_target: str | None,
    label_field: str,
    label_map: tuple[str, ...],
    prompt_field: str,
    response_field: str,
    online: bool,
    api_key_env: str | None,
    config_path: str | None,
) -> None:
    """Apply DETECTOR to each record of FILE (JSONL, or CSV with a header) with `prompt` and
    `response` fields (optional `expect` for detectors with answer keys) and write the
    verdicts."""
    from allegiance.detectors.base import get_detector
    from allegiance.detectors.labels import parse_label_map, truth_of
    from allegiance.errors import ConfigError
    from allegiance.suites.model import Probe

    info = get_detector(detector)
    mapping = parse_label_map(label_map, info.labels)
    refuse_overwrite(out_path, [file], "the input file")
    records = _read(Path(file))
    fields = _fields(records[0][1], prompt_field, response_field, label_field)
    label_given = _given("label_field")
    label_field = fields.label
    if online:
        if detector != "packages":
            raise ConfigError("--online applies to the packages detector only")
        from allegiance.detectors.packages import refresh_online

        answers = [a for _, r in records if isinstance(a := fields.pair(r)[1], str)]
        looked_up = refresh_online(answers)
        click.echo(f"online: looked up {len(looked_up)} package name(s)", err=True)
    verdicts: list[Verdict] = []
    pairs: list[tuple[str, str]] = []  # (prompt, response); the records themselves stay as read
    judged: dict[int, int] = {}  # record index -> its verdict's position
    without_prompt = without_answer = 0
    unreadable_label: str | None = None
    # (verdict position, (our label or None, flagged)) for each labelled record, read once here
    truths: list[tuple[int, tuple[str | None, bool]]] = []
    for index, (number, record) in enumerate(records):
        prompt, response = fields.pair(record)
        if response is None and fields.response in record:
            # an explicit null: a prompt that got no answer (datasets keep such rows); not judged,
            # written out with a null verdict, said below. A missing field is still an error.
            without_answer += 1
            continue
        if not isinstance(response, str):
            where = f"'{fields.response}'" + (
                f" or an assistant turn in '{fields.transcript}'" if fields.transcript else ""
            )
            raise ConfigError(
                f"{file}:{number}: each record needs a string field {where} (see --response-field)"
            )
        if prompt is None:
            # logs often keep only the answer: judge it alone (echo and relevance checks off)
            prompt = ""
            without_prompt += 1
        elif not isinstance(prompt, str):
            raise ConfigError(f"{file}:{number}: '{fields.prompt}' must be a string")
        pairs.append((prompt, response))
        if record.get(label_field) not in (None, "") and unreadable_label is None:
            # read the labels up front: one we cannot read means no scores (the verdicts, the
            # command's main output, are still written), said once, naming the record
            try:
                truth = truth_of(
                    record[label_field],
                    detector=info.name,
                    labels=info.labels,
                    flagged_labels=info.flagged_labels,
                    label_map=mapping,
                )
            except ConfigError as error:
                unreadable_label = f"{file}:{number}: {error}"
            else:
                truths.append((len(verdicts), truth))
        if not isinstance(record.get("expect") or {}, dict):
            raise ConfigError(f"{file}:{number}: 'expect' must be an object")
        probe = Probe.from_prompt(prompt, expect=record.get("expect") or {})
        judged[index] = len(verdicts)
        try:
            verdicts.append(info(probe, response))
        except ConfigError as error:
            # a bad answer key: name the record, not the made-up probe id
            raise ConfigError(
                f"{file}:{number}: {str(error).removeprefix(f'probe {probe.id!r}: ')}"
            ) from None
    if without_answer:
        click.echo(
            f"note: {without_answer} record(s) have a null '{terminal_safe(fields.response)}'; "
            "not judged "
            "(written with a null verdict)",
            err=True,
        )
    if without_prompt:
        click.echo(
            f"note: {without_prompt} record(s) have no '{terminal_safe(fields.prompt)}'; "
            "judged on the answer "
            "alone",
            err=True,
        )
    llm_labels: list[str | None] = []
    if judge_target:
        import asyncio

        from allegiance.config import load_config
        from allegiance.detectors.llm_judge import describe_problems, judge_many, rubric_for
        from allegiance.targets.base import warm_up
        from allegiance.targets.resolve import build_target

        target, _ = build_target(judge_target, load_config(config_path), api_key_env=api_key_env)
        warm_up(target)
        replies = asyncio.run(judge_many(target, rubric_for(detector), pairs))
        llm_labels = [reply.label for reply in replies]
        for line in describe_problems(replies):
            click.echo(f"judge: {terminal_safe(line)}", err=True)
    # a regular file (or a new one) is written beside itself and renamed into place, so a
    # failure halfway leaves an earlier OUT as it was; a device or a pipe (/dev/null, a FIFO)
    # is written as it is, and a symlink is followed, not replaced
    staging: str | None = None
    out_file = os.path.realpath(out_path) if out_path else None
    if out_file is not None and os.path.isdir(out_file):
        raise ConfigError(f"cannot write {out_path}: it is a folder")
    if out_file is not None and (not os.path.exists(out_file) or os.path.isfile(out_file)):
        staging = f"{out_file}.partial-{os.getpid()}"
    try:
        out = open(staging or out_file, "w", encoding="utf-8") if out_file else sys.stdout  # noqa: SIM115
    except OSError as error:
        raise ConfigError(f"cannot write {out_path}: {error.strerror or error}") from error
    done = False
    try:
        # the records go out as read, plus one field; if they already have a "verdict" (their
        # own), ours goes under "allegiance_verdict" rather than replacing it
        key = _free_key(records)
        if key != "verdict":
            click.echo(
                f"note: the records have a 'verdict' already; ours is '{terminal_safe(key)}'",
                err=True,
            )
        for index, (_, record) in enumerate(records):
            position = judged.get(index)
            ours: dict[str, Any] | None = None
            if position is not None:
                ours = {"detector": detector, **verdicts[position].to_record()}
                if llm_labels:
                    ours["llm_judge"] = llm_labels[position]
            line = json.dumps({**record, key: ours}, ensure_ascii=False)
            if _SURROGATE.search(line):  # a lone surrogate ("\ud800") cannot be UTF-8: escape
                line = json.dumps({**record, key: ours}, ensure_ascii=True)
            # U+2028/U+2029 are line breaks to many readers, C1 and bidi controls act on a
            # terminal: escaped (the same JSON value), one record per line
            safe = json_terminal_safe(line)
            out.write(safe.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n")
        # a full disk shows when the last of it is written out: part of the same attempt
        if out_file is None:
            out.flush()
        else:
            out.close()
        done = True
    except BrokenPipeError:
        raise  # the reader left (`| head`): the CLI ends quietly
    except OSError as error:  # a full disk, /dev/full
        where = out_path or "standard output"
        raise ConfigError(f"cannot write {where}: {error.strerror or error}") from None
    finally:
        if out_file is not None and not out.closed:
            with contextlib.suppress(OSError):
                out.close()
        if staging and done:
            os.replace(staging, str(out_file))
        elif staging:
            Path(staging).unlink(missing_ok=True)
    if label_given and not any(label_field in r for _, r in records):
        click.echo(
            f"note: no record has a field '{terminal_safe(label_field)}'; nothing to score",
            err=True,
        )
    if unreadable_label is not None:
        click.echo(f"note: labels not scored: {terminal_safe(unreadable_label)}", err=True)
        truths = []  # nothing to score against
    _summarise(verdicts, info, label_field, truths, llm_labels)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _given(option: str) -> bool:
    """Whether the user named this option (rather than leaving its default)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(option)
    return source not in (None, ParameterSource.DEFAULT)


def _free_key(records: list[tuple[int, dict[str, Any]]]) -> str:
    """The field our verdict goes under: ``verdict``, unless a record has one already (their
    own, or ours from an earlier pass), then the first free ``allegiance_verdict[_N]``."""
    taken = {key for _, record in records for key in record}
    candidates = ["verdict", "allegiance_verdict"]
    candidates += [f"allegiance_verdict_{n}" for n in range(2, len(taken) + 3)]
    return next(key for key in candidates if key not in taken)


def _fields(first: dict[str, Any], prompt: str, response: str, label: str) -> Fields:
    """The fields to read: those the user named, else guessed from the first record (said on
    stderr; see :mod:`allegiance.cli.judge_fields`)."""
    from allegiance.cli.judge_fields import choose_fields

    def given(name: str, value: str) -> str | None:
        return value if _given(name) else None

    fields, notes = choose_fields(
        first,
        prompt=given("prompt_field", prompt),
        response=given("response_field", response),
        label=given("label_field", label),
    )
    for note in notes:
        click.echo(f"note: {terminal_safe(note)}", err=True)
    return fields


def _read(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line or row number, record) from a JSONL file, or from a CSV file with a header row
    (many labelled sets, XSTest's among them, are published as CSV)."""
    from allegiance.errors import ConfigError
    from allegiance.jsonl import read_objects

    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:  # keep \r\n inside fields
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    if path.suffix.casefold() == ".csv":
        import csv
        import io

        csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))  # long answers
        # strict: an unclosed quote is an error, not the rest of the file read as one answer
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        records: list[tuple[int, dict[str, Any]]] = []
        try:
            first_line = 2  # a record is named by the line it starts on (answers span lines)
            for row in reader:
                # DictReader pads a short row with None and files a long one's extras under
                # None: an unterminated quote or a lost comma, not a record to judge
                if None in row or None in row.values():
                    width = len(reader.fieldnames or [])
                    found = (
                        len(row) - 1 + len(row[None])
                        if None in row
                        else width - sum(v is None for v in row.values())
                    )
                    raise ConfigError(
                        f"{path}:{first_line}: {found} field(s) where the header has "
                        f"{width} (an unclosed quote, or a missing or extra comma?)"
                    )
                records.append((first_line, dict(row)))
                first_line = reader.line_num + 1
        except csv.Error as error:
            raise ConfigError(
                f"{path}:{first_line}: not valid CSV: {error} (an unclosed quote, or a "
                "quote inside a quoted field not doubled)"
            ) from error
    else:
        records = read_objects(text, str(path), ConfigError)
    if not records:
        raise ConfigError(f"{path}: no records")
    return records


def _prf(truth: list[bool], flagged: list[bool]) -> tuple[float, float, float]:
    tp = sum(t and f for t, f in zip(truth, flagged, strict=True))
    fp = sum(f and not t for t, f in zip(truth, flagged, strict=True))
    fn = sum(t and not f for t, f in zip(truth, flagged, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# Labels that agree this badly with the detector, and this well read the other way round,
# are more likely a dataset whose 1 means "the model complied" than a bad detector.
INVERTED_F1_BELOW, INVERTED_GAIN, INVERTED_MIN_RECORDS = 0.5, 0.3, 20


def _warn_if_inverted(truth: list[bool], flagged: list[bool], f1: float, named: bool) -> None:
    """Say so when boolean labels look the wrong way round; never flip them silently."""
    if named or len(truth) < INVERTED_MIN_RECORDS or f1 >= INVERTED_F1_BELOW:
        return
    inverted = _prf([not t for t in truth], flagged)[2]
    if inverted >= f1 + INVERTED_GAIN:
        click.echo(
            f"warning: these labels look inverted: read the other way round, F1 would be "
            f"{inverted:.3f}. If 1/true means not flagged (a jailbreak set's 1: the model "
            "complied), say --label-map 1=not-flagged --label-map 0=flagged",
            err=True,
        )


def _span(interval: tuple[float, float] | None) -> str:
    """``[low–high]``, or n/a for no interval (a Wilson interval of n = 0 is NaN to NaN)."""
    if interval is None or interval[0] != interval[0]:
        return "n/a"
    return f"[{interval[0]:.3f}–{interval[1]:.3f}]"


def _intervals(truth: list[bool], flagged: list[bool]) -> str:
    """95 % intervals of the scores: a few hundred labelled answers leave a wide margin, and
    two detectors (or a detector and a judge) should be compared with it in view."""
    from allegiance.analysis.stats import F1_RESAMPLES, f1_interval, wilson

    tp = sum(t and f for t, f in zip(truth, flagged, strict=True))
    precision = wilson(tp, sum(flagged))
    recall = wilson(tp, sum(truth))
    return (
        f"95 % intervals: precision {_span((precision.low, precision.high))}, recall "
        f"{_span((recall.low, recall.high))} (Wilson), F1 {_span(f1_interval(truth, flagged))} "
        f"(paired bootstrap, {F1_RESAMPLES:,} resamples)"
    )


def _summarise(
    verdicts: list[Any],
    info: Any,
    label_field: str,
    truths: list[tuple[int, tuple[str | None, bool]]],
    llm_labels: list[str | None],
) -> None:
    """Counts on stderr; with human labels, precision/recall/F1 of *flagged* against them."""
    from collections import Counter

    counts = Counter(v.label for v in verdicts)
    click.echo(
        f"{len(verdicts)} records: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()),
        err=True,
    )
    if truths:
        flagged = [verdicts[i].flagged for i, _ in truths]
        precision, recall, f1 = _prf([t for _, (_, t) in truths], flagged)
        unlabelled = len(verdicts) - len(truths)
        line = (
            f"against '{label_field}' ({len(truths)} labelled"
            + (f", {unlabelled} without a label skipped" if unlabelled else "")
            + f"): precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f} "
            f"(flagged = {', '.join(info.flagged_labels)})"
        )
        named = [(i, label) for i, (label, _) in truths if label]
        if named:
            exact = sum(1 for i, label in named if verdicts[i].label == label) / len(named)
            line += f"; exact-label accuracy {exact:.3f}"
        click.echo(line, err=True)
        click.echo("  " + _intervals([t for _, (_, t) in truths], flagged), err=True)
        _warn_if_inverted([t for _, (_, t) in truths], flagged, f1, bool(named))
        if "partial" in info.labels and any(
            label == "partial" or verdicts[i].label == "partial" for i, (label, _) in truths
        ):
            # Datasets disagree on whether a partial refusal is a refusal: XSTest reports both;
            # WildGuard's binary labels call a decline followed by general information a refusal.
            partial_truth = [t or label == "partial" for _, (label, t) in truths]
            loose = [
                f or verdicts[i].label == "partial"
                for (i, _), f in zip(truths, flagged, strict=True)
            ]
            precision, recall, f1 = _prf(partial_truth, loose)
            from allegiance.analysis.stats import f1_interval

            span = f1_interval(partial_truth, loose)
            click.echo(
                f"  counting partial as flagged too: precision {precision:.3f}, "
                f"recall {recall:.3f}, F1 {f1:.3f}" + ("" if span is None else " " + _span(span)),
                err=True,
            )
    if llm_labels:
        from allegiance.detectors.llm_judge import cohens_kappa

        fast = [v.label for v in verdicts]
        judged = [x for x in llm_labels if x is not None]
        agree = sum(1 for a, b in zip(fast, llm_labels, strict=True) if b is not None and a == b)
        kappa = cohens_kappa(fast, llm_labels)  # type: ignore[arg-type]
        kappa_text = "n/a" if kappa is None else f"{kappa:.2f}"
        click.echo(
            f"LLM judge: {len(judged)}/{len(fast)} parsed; agrees with the fast detector on "
            f"{agree}/{len(judged)}; Cohen's kappa {kappa_text}",
            err=True,
        )
        if truths:
            # the judge scored against the same human labels (its unparsed answers left out),
            # so a judge model can be validated the way the fast detector is
            pairs = [
                (truth, llm_labels[i] in info.flagged_labels)
                for i, (_, truth) in truths
                if llm_labels[i] is not None
            ]
            if pairs:
                precision, recall, f1 = _prf([t for t, _ in pairs], [j for _, j in pairs])
                click.echo(
                    f"LLM judge against '{label_field}' ({len(pairs)} parsed): precision "
                    f"{precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}",
                    err=True,
                )
