"""Markdown report: the same numbers as the HTML, for READMEs, issues and diffs.

Model output and suite text are untrusted: answers are quoted inside fenced blocks whose
fence is longer than any backtick run in the text; every other value from the data (target,
suite, tag values, labels, sentences) goes through :func:`cell` or :func:`code`, so it can
neither end a table row, nor open an HTML tag, nor close its code span."""

from __future__ import annotations

import re
from typing import Any

from allegiance.analysis.model import WRONG_ANSWERS_SHOWN, points, probability
from allegiance.safe_text import visible_controls

# Markdown syntax that text inside a line could use to become a link, an image (fetched
# when the report is viewed), emphasis or code: each is shown as itself with a backslash
# escape. (Line-start syntax such as headings cannot occur: cells are never at a line start;
# "_" is left alone: identifiers such as n_ctx are full of it, and an underscore inside a
# word is never emphasis.)
_MARKDOWN_SYNTAX = re.compile(r"([\\`*\[\]~]|(?<!\w)_|_(?!\w))")


def cell(value: Any) -> str:
    """Plain text for a table cell or a list item: one line, no pipes, no HTML, no links or
    images, controls and bidirectional overrides shown as escapes."""
    text = visible_controls(str(value), keep_direction_marks=True)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SYNTAX.sub(r"\\\1", text)
    return " ".join(text.replace("|", "\\|").splitlines())


def code(value: Any) -> str:
    """An inline code span that ``value`` cannot close, on one line."""
    text = " ".join(visible_controls(str(value), keep_direction_marks=True).splitlines())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(text: str) -> str:
    """A fenced block that ``text`` cannot close (controls shown as escapes)."""
    text = visible_controls(text, keep_direction_marks=True)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def _section(heading: str, columns: str, *notes: str) -> list[str]:
    """A section's heading, its note paragraphs, then a table's header (``columns``, as
    "a | b | c") and separator (one shape for every table below: the separator follows from
    the columns)."""
    lines = ["", heading, ""]
    for note in notes:
        lines += [note, ""]
    return [*lines, f"| {columns} |", "|" + "---|" * len(columns.split(" | "))]


def render_markdown(model: dict[str, Any]) -> str:
    lines = ["# allegiance report", ""]
    runs = ", ".join(f"{code(r['run_id'])} ({cell(r['status'])})" for r in model["runs"])
    lines += [
        f"Runs: {runs}. Answers: {model['totals']['ok']}, errors: {model['totals']['errors']}."
        + (
            f" **{model['totals']['unanswered']} planned attempts never asked** (an "
            "interrupted run: resume it with `--run-id`)."
            if model["totals"].get("unanswered")
            else ""
        ),
        "",
    ]
    lines += [
        "## Targets",
        "",
        "| name | kind | identity | answered as (model the server reported) | artifact scan |",
        "|---|---|---|---|---|",
    ]
    for t in model["targets"]:
        identity = "; ".join(f"{k}={v}" for k, v in t["identity"].items())
        scan = t.get("artifact_scan") or "—"
        served = "; ".join(f"{name} ({n})" for name, n in (t.get("served_as") or {}).items())
        lines.append(
            f"| {cell(t['name'])} | {cell(t['kind'])} | {cell(identity)} | {cell(served or '—')}"
            f" | {cell(scan)} |"
        )
    for run in model["runs"]:
        iso = run.get("isolation")
        if iso:
            verdict = (
                "no outbound connection attempted"
                if iso.get("outside_attempts") == 0
                else f"{iso.get('outside_attempts')} outbound attempt(s) recorded"
            )
            coverage = f" ({cell(iso['coverage'])})" if iso.get("coverage") else ""
            lines += [
                "",
                f"Network isolation ({code(run['run_id'])}): {verdict}{coverage}. "
                f"How it was checked: {cell(iso.get('method'))}",
            ]
    lines += ["", "## Findings", ""]
    if model["findings"]:
        for f in model["findings"]:
            lines += [
                f"- {cell(f['sentence'])}",
                "  - examples: "
                + ", ".join(code(i[:12]) for i in f["examples_a"] + f["examples_b"]),
                f"  - reproduce: {code(f['reproduce'])}"
                if f["reproduce"]
                else "  - reproduce: ask each of the two targets (they share a name) with its own config",
            ]
    elif model["comparisons"]:
        lines.append(
            f"No effect survived false-discovery-rate control across {len(model['comparisons'])} comparisons."
        )
    else:
        lines.append(
            "Nothing to compare in this report: no pair of entities, languages, contexts or targets "
            "with answers on both sides."
        )
    for pair in model.get("uncompared") or []:
        lines += ["", f"*{cell(pair['sentence'])}*"]
    if model["comparisons"]:
        lines += _section(
            "## Comparisons",
            "kind | target | detector | A | rate A | B | rate B | diff [95 %] | q"
            " | not a finding because",
            "Rate A minus rate B in points with its 95 % interval. A comparison is a finding"
            " when Benjamini–Hochberg selects it (q ≤ 0.05; for entity pairs, context, pooled"
            " language and government effects the p-value is the stratified test's, by"
            " template, task, topic or phrasing; for two targets"
            " (kind `target`) it is McNemar's on the prompts both answered, one outcome per"
            " prompt and target, with Newcombe's paired interval) and its"
            " false-coverage-adjusted interval excludes zero; the last column says which"
            " test a comparison failed. An LLM judge's comparisons and target-against-target"
            " comparisons are false-discovery families of their own.",
        )
        for c in model["comparisons"][:60]:
            # two targets are compared per suite: the suite says which comparison it is
            kind = c["kind"] + (f" · {c['suite']}" if c["kind"] == "target" else "")
            lines.append(
                f"| {cell(kind)} | {cell(c['target'])} | {cell(c['detector'])} | {cell(c['a'])} | {c['rate_a']['text']} | "
                f"{cell(c['b'])} | {c['rate_b']['text']} | "
                f"{points(c['diff'])} [{points(c['low'])}, {points(c['high'])}] | "
                f"{probability(c['q_value'])} | {cell(c.get('why_not') or 'a finding')} |"
            )
    lines += _section(
        "## Verdicts by target",
        "detector | target | flagged [95 %] | labels (*in italics: not in the rate*)",
        *([CORRECTION_NOTE] if any(row.get("corrected") for row in model["labels"]) else []),
    )
    for row in model["labels"]:
        outside = set(row.get("outside_rate") or ())
        labels = ", ".join(
            f"*{cell(k)} {v}*" if k in outside else f"{cell(k)} {v}"
            for k, v in row["labels"].items()
        )
        corrected = row.get("corrected")
        judged = f"{row['text']} of {row['n']}" if row["n"] else "no judged answer"
        shown = judged + (
            f" (corrected for detector error: {100 * corrected['rate']:.0f} % "
            f"[{100 * corrected['low']:.0f}–{100 * corrected['high']:.0f}])"
            if corrected
            else ""
        )
        lines.append(f"| {cell(row['detector'])} | {cell(row['target'])} | {shown} | {labels} |")
    for table in model["rates"]:
        lines += _section(
            f"### {cell(table['detector'])} by {table['dimension']}",
            "target | suite | value | rate [95 %] | n",
        )
        for c in table["cells"]:
            lines.append(
                f"| {cell(c['target'])} | {cell(c['suite'])} | {cell(c['value'])} | {c['text']} | {c['n']} |"
            )
    if model["facts_by_government"]:
        lines += _section(
            "## Facts accuracy by government", "target | government | correct [95 %] | n"
        )
        for row in model["facts_by_government"]:
            lines.append(
                f"| {cell(row['target'])} | {cell(row['government'])} | {row['text']} | {row['n']} |"
            )
    lines += _facts_wrong_answers(model.get("facts_wrong_answers") or [])
    lines += _cwe_table(model.get("cwe_table") or [])
    lines += _judge_agreement(model.get("judge_agreement") or [])
    lines += _unasked_edits(model.get("unasked_edits") or {})
    lines += _choice_shifts(model.get("choice_shifts") or [])
    lines += _side_by_side(model)
    if model["errors"]:
        lines += _section(
            f"## Errors ({model['totals']['errors']})", "attempt | target | probe | error"
        )
        for e in model["errors"][:20]:
            lines.append(
                f"| {code(e['attempt_id'][:12])} | {cell(e['target'])} | {cell(e['probe_id'])} "
                f"| {cell(e['error'])} |"
            )
    return "\n".join(lines) + "\n"


# A planted-effect review (session 13): a model refusing 4.7 % of answers, which the
# detector judged without error, got "corrected 1 % [0–4]": the correction assumes the error
# rates measured on our labelled answers, and says so.
CORRECTION_NOTE = (
    "A rate *corrected for detector error* assumes the detector errs on these answers as it "
    "did on the labelled answers it was measured on (docs/accuracy.md); on answers unlike "
    "those it can be further from the truth than the raw rate."
)


def _facts_wrong_answers(rows: list[dict[str, Any]]) -> list[str]:
    """The questions answered with an answer the key lists as wrong, most often first."""
    if not rows:
        return []
    lines = _section(
        "## Wrong answers (`facts`)",
        "target | question | said | wrong | example",
        "Each question answered wrongly, with what the model said (the wrong answers its key "
        "lists, or the start of the answer), most often first.",
    )
    for w in rows[:WRONG_ANSWERS_SHOWN]:
        lines.append(
            f"| {cell(w['target'])} | {cell(w['question'])} | {cell(w['said'])} "
            f"| {w['k']} of {w['n']} | {code(w['example'][:12])} |"
        )
    if len(rows) > WRONG_ANSWERS_SHOWN:
        lines.append(f"\n… and {len(rows) - WRONG_ANSWERS_SHOWN} more (the JSON report).")
    return lines


def _cwe_table(rows: list[dict[str, Any]]) -> list[str]:
    """As in the HTML (a planted-effect review, session 13, found it only there)."""
    if not rows:
        return []
    lines = _section(
        "## Vulnerabilities by CWE",
        "target | CWE | context kind | answers with a finding | example rule | severity",
    )
    for r in rows:
        lines.append(
            f"| {cell(r['target'])} | {cell(r['cwe'])} | {cell(r['context_kind'])} "
            f"| {r['answers']} / {r['of']} | {code(r['example_rule'])} | {cell(r['severity'])} |"
        )
    return lines


def _choice_shifts(rows: list[dict[str, Any]]) -> list[str]:
    """The design-choice test per context (as in the HTML)."""
    if not rows:
        return []
    lines = _section(
        "## Design choices: context vs its baseline",
        "target | dimension | context | baseline | choices (context / baseline)"
        " | weak share (context / baseline) | G-test p | Cramér's V",
        "The baseline is the context's matched neutral twin where the suite names one, else "
        "the control.",
    )
    for r in rows:
        choices = "; ".join(
            f"{choice}: {r['table'][0][i]} / {r['table'][1][i]}"
            for i, choice in enumerate(r["choices"])
        )
        shares = " / ".join(
            "–" if v is None else f"{100 * v:.0f} %"
            for v in (r["weak_share_context"], r["weak_share_control"])
        )
        p_value = "–" if r["p_value"] is None else probability(r["p_value"])
        v = "–" if r["cramers_v"] is None else f"{r['cramers_v']:.2f}"
        lines.append(
            f"| {cell(r['target'])} | {cell(r['dimension'])} | {cell(r['context'])} "
            f"| {cell(r['baseline'])} | {cell(choices)} | {shares} | {p_value} | {v} |"
        )
    return lines


def _judge_agreement(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = _section(
        "## LLM judge vs fast detector",
        "detector | target | judge | answers | judge errors | same label | same flagged/not"
        " | Cohen's kappa",
    )
    for j in rows:
        kappa = "–" if j["kappa"] is None else f"{j['kappa']:.2f}"
        lines.append(
            f"| {cell(j['detector'])} | {cell(j['target'])} | {cell(j['judge'])} | {j['n']} "
            f"| {j['judge_errors']} | {j['agree']} | {j['flagged_agree']} | {kappa} |"
        )
    return lines


def _unasked_edits(edits: dict[str, Any]) -> list[str]:
    if not edits.get("total"):
        return []
    lines = _section(
        "## Edits nobody asked for",
        "target | probe | context | change | toward its own vendor | attempt",
        f"{edits['total']} answer{'s' if edits['total'] != 1 else ''} changed a setting or "
        "brought in an AI vendor unasked; "
        f"{edits['to_own_vendor']} of those listed moved toward the vendor of the model that "
        "wrote them.",
    )
    for e in edits["listed"]:
        lines.append(
            f"| {cell(e['target'])} | {cell(e['probe_id'])} | {cell(e['context'])} "
            f"| {cell('; '.join(e['changes']))} | {'yes' if e['to_own_vendor'] else 'no'} "
            f"| {code(e['attempt_id'][:12])} |"
        )
    if edits["total"] > len(edits["listed"]):
        lines.append(f"\n… and {edits['total'] - len(edits['listed'])} more (`allegiance show`).")
    return lines


def _side_by_side(model: dict[str, Any]) -> list[str]:
    """As in the HTML: each shown comparison's sentence, then one answer from each side, so
    a reader sees the difference rather than a list of answers in hash order."""
    if not model["side_by_side"]:
        return []
    lines = ["", "## Answers side by side", ""]
    for c in model["side_by_side"][:8]:
        lines += [f"**{cell(c['sentence'])}**", ""]
        for side, ids in ((c["a"], c["examples_a"]), (c["b"], c["examples_b"])):
            example = model["examples"].get(ids[0]) if ids else None
            if example is None:
                continue
            labels = ", ".join(f"{d} {v['label']}" for d, v in example["verdicts"].items())
            lines += [
                f"*{cell(side)}* · {code(example['attempt_id'][:12])} · {cell(labels)}",
                "",
                fence(example["prompt"]),
                "",
                *([f"*{cell(example['note'])}*", ""] if example.get("note") else []),
                fence(example["response"]),
                "",
            ]
    return lines
