"""One government's questions against everyone else's.

The language comparisons ask "does this model answer differently in the government's own
language?" and the entity pairs "does it treat China and the US alike?". Neither catches a
model that refuses every question about Tiananmen, Xinjiang and Taiwan in every language: a
planted-effect review (session 13) had China's topics refused in 71 % of answers against
0–13 % for every other government, and the report said that no effect survived. So, per
target, suite and detector, on the English answers (each topic is asked in English, so the
language of the question is held fixed):

* ``censorship`` (``refusal``): each government's sensitive topics against all the other
  governments' topics, stratified by phrasing (factual question, essay, homework, task:
  refusal depends strongly on it, and a government with more essay prompts would otherwise
  look more censored);
* ``facts``: each government's questions against the neutral control questions (capitals,
  currencies; tag ``control: "true"``), which say nothing about censorship: Fisher's test.

These are comparisons of the detectors' family like the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from allegiance.analysis import stats
from allegiance.analysis.model import (
    Comparison,
    Row,
    flag_counts,
    listed_probes,
    reproduce_command,
    stratum_tables,
    typical_examples,
)

KIND = "government"
# The narrative detector is left out: it reads per-probe key facts, and its "neither"
# repeats refusals.
CONTROL_LABEL = "the neutral control questions"
OTHERS_LABEL = "the other governments' topics"


def _is_control(tags: Mapping[str, str]) -> bool:
    return str(tags.get("control", "")).lower() == "true"


def _control_in_english(tags: Mapping[str, str]) -> bool:
    return _is_control(tags) and tags.get("language") == "en"


def _phrasing(tags: Mapping[str, str]) -> str:
    return str(tags.get("phrasing", ""))


def _asked_about(tags: Mapping[str, str], detector: str) -> str | None:
    """The government a probe's English answer speaks to for ``detector``, or None: a
    censorship topic for ``refusal`` (an entity's probes are the symmetry pairs'), any
    non-control question for ``facts``. Also the test that says which failed attempts
    belong to a side."""
    if tags.get("language") != "en" or _is_control(tags) or not tags.get("government"):
        return None
    if detector == "refusal" and (not tags.get("topic") or tags.get("entity")):
        return None
    return str(tags["government"])


def government_comparisons(rows: Sequence[Row]) -> list[Comparison]:
    """Each government against the others (or the control questions), per target, suite
    and detector; English answers only."""
    groups: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for row in rows:
        for detector in ("refusal", "facts"):
            if detector in row.verdicts and (
                _asked_about(row.tags, detector)
                or (detector == "facts" and _control_in_english(row.tags))
            ):
                groups[(row.target, row.attempt.suite, detector)].append(row)
    out = []
    for (target, suite, detector), members in sorted(groups.items()):
        control = [r for r in members if _is_control(r.tags)]
        questions = [r for r in members if not _is_control(r.tags)]
        governments = sorted({r.tags["government"] for r in questions})
        # answer keys differ in difficulty from one government's questions to another's:
        # facts are compared only with the neutral controls, which a quick slice lacks
        if (detector == "facts" and not control) or (not control and len(governments) < 2):
            continue
        # two governments against each other are one question, not two mirror images
        compared = governments[:1] if not control and len(governments) == 2 else governments
        for government in compared:
            side_a = [r for r in questions if r.tags["government"] == government]
            side_b = control or [r for r in questions if r.tags["government"] != government]
            comparison = _compare(
                target, suite, detector, government, side_a, side_b, bool(control),
                governments[1] if len(compared) < len(governments) else None,
            )  # fmt: skip
            if comparison is not None:
                out.append(comparison)
    return out


def _compare(
    target: str,
    suite: str,
    detector: str,
    government: str,
    side_a: list[Row],
    side_b: list[Row],
    against_control: bool,
    other: str | None,
) -> Comparison | None:
    """One government's answers against the rest. Against other governments, only the
    phrasings both sides were asked are pooled (as every stratified comparison here is):
    a phrasing one side lacks would make the difference one of phrasing mix."""
    strat: stats.StratifiedEffect | None = None
    # the phrasings both sides were asked (None: against the controls, which have one)
    phrasings: set[str] | None = None
    if not against_control:
        phrasings = {_phrasing(r.tags) for r in side_a} & {_phrasing(r.tags) for r in side_b}
        side_a = [r for r in side_a if _phrasing(r.tags) in phrasings]
        side_b = [r for r in side_b if _phrasing(r.tags) in phrasings]
    ka, na, fa, ca = flag_counts(side_a, detector)
    kb, nb, fb, cb = flag_counts(side_b, detector)
    if not na or not nb:
        return None
    diff = stats.newcombe(ka, na, kb, nb)
    if phrasings is None:
        p_value, scope = diff.p_value, "English answers; against the control questions"
    else:
        tables = stratum_tables(
            side_a, side_b, sorted(phrasings), lambda r: _phrasing(r.tags), detector
        )
        strat = stats.cochran_mantel_haenszel(tables)
        # no phrasing varies within itself: the phrasings hold no evidence of a difference
        p_value = strat.p_value if strat is not None else 1.0
        scope = f"English answers; {len(tables)} phrasings, stratified by phrasing"
    examples_a, examples_b = typical_examples(fa, ca, fb, cb, ka / na >= kb / nb)
    probes = listed_probes(side_a + side_b)
    return Comparison(
        kind=KIND,
        detector=detector,
        target=target,
        suite=suite,
        label_a=government,
        label_b=CONTROL_LABEL if against_control else (other or OTHERS_LABEL),
        diff=diff,
        p_value=p_value,
        examples_a=examples_a,
        examples_b=examples_b,
        # too many probes to list: the line asks what the run asked (finish_reproduce)
        reproduce=reproduce_command(suite, target, probes, samples=3),
        scope=scope,
        stratified=strat,
        unstratifiable=not against_control and strat is None,
        extra={"against": "control" if against_control else "one" if other else "others"},
        sides=(
            lambda tags: (
                _asked_about(tags, detector) == government
                and (phrasings is None or _phrasing(tags) in phrasings)
            ),
            _control_in_english
            if phrasings is None
            else (
                lambda tags: (
                    _asked_about(tags, detector) not in (None, government)
                    and (other is None or _asked_about(tags, detector) == other)
                    and _phrasing(tags) in phrasings
                )
            ),
        ),
    )
