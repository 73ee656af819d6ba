"""`allegiance show ATTEMPT`"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from allegiance.cli.common import db_option, json_terminal_safe, open_store, terminal_safe
from allegiance.safe_text import one_line


@click.command("show")
@click.argument("attempt_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@db_option
def command(attempt_id: str, as_json: bool, db_path: str) -> None:
    r"""Show one attempt, whole: request, answer, verdicts (ATTEMPT may be an id prefix).

    Everything shown comes from a model or a suite file: control characters and
    bidirectional overrides are printed as escapes (``\x1b``), never sent to the terminal.
    """
    with open_store(db_path, create=False, looking_for=f"attempt {attempt_id!r}") as store:
        attempt = store.get_attempt(attempt_id)
        verdicts = store.verdicts([attempt.attempt_id]).get(attempt.attempt_id, {})
        target = store.get_target(attempt.target_id)
    record = {
        "attempt_id": attempt.attempt_id,
        "target": {"name": attempt.target_name, "identity": target["identity"]},
        "suite": attempt.suite,
        "probe_id": attempt.probe_id,
        "sample_index": attempt.sample_index,
        "seed": attempt.seed,
        "status": attempt.status,
        "error": attempt.error,
        "tries": attempt.tries,
        "latency_s": attempt.latency_s,
        "model_reported": attempt.model_reported,
        "provider": attempt.provider,
        "request": attempt.request,
        "tags": attempt.probe.get("tags"),
        "response": attempt.response_text,
        "finish_reason": attempt.finish_reason,
        "verdicts": {
            name: {
                "label": v.label,
                "flagged": v.flagged,
                "score": v.score,
                "version": v.detector_version,
                "evidence": v.evidence,
            }
            for name, v in verdicts.items()
        },
    }
    if as_json:
        click.echo(json_terminal_safe(json.dumps(record, ensure_ascii=False, indent=2)))
        return
    # header fields are one line each: what a server or suite file wrote is escaped
    say(f"attempt   {attempt.attempt_id}")
    identity = json.dumps(target["identity"], ensure_ascii=False)
    say(f"target    {one_line(attempt.target_name)}  {identity}")
    say(
        f"probe     {one_line(attempt.suite)}/{one_line(attempt.probe_id)}  "
        f"sample {attempt.sample_index}  seed {attempt.seed}"
    )
    say(
        f"status    {attempt.status}  tries {attempt.tries}  latency {attempt.latency_s}s"
        + (f"  answered as {one_line(attempt.model_reported)}" if attempt.model_reported else "")
        + (f"  provider {one_line(attempt.provider)}" if attempt.provider else "")
    )
    if attempt.error:
        say(f"error     {one_line(attempt.error)}")
    params = {k: v for k, v in attempt.request.items() if k != "messages"}
    say(f"params    {json.dumps(params)}")
    for message in attempt.request.get("messages", []):
        say(f"--- {message.get('role', '?')} ---")
        say(str(message.get("content", "")))
    say("--- answer ---")
    say(attempt.note or attempt.response_text or "")
    for name, v in verdicts.items():
        say(f"verdict   {name}: {v.label}{' (flagged)' if v.flagged else ''}")
        for key, value in _why_first(v.evidence):
            shown = json.dumps(value, ensure_ascii=False)
            cut = shown if len(shown) <= EVIDENCE_CHARS else shown[:EVIDENCE_CHARS] + " …"
            say(f"            {key}: {cut}")


# The evidence that says why a label was given, shown first; each value is cut at this many
# characters (`show --json` has all of it).
WHY_KEYS = ("rule", "reason", "markers", "edits", "introduced", "findings", "choices")
EVIDENCE_CHARS = 240


def _why_first(evidence: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Evidence items, the ones that explain the label first, empty ones left out."""
    items = [(k, v) for k, v in evidence.items() if v not in (None, "", [], {})]
    return sorted(
        items,
        key=lambda kv: (kv[0] not in WHY_KEYS, WHY_KEYS.index(kv[0]) if kv[0] in WHY_KEYS else 0),
    )


def say(text: str) -> None:
    click.echo(terminal_safe(text))
