"""Each government's topics against the others' (censorship) and its questions against the
neutral controls (facts)."""

from __future__ import annotations

from allegiance.analysis.government import government_comparisons
from allegiance.analysis.model import Row, apply_fdr, sentence
from tests.analysis.test_stats_and_model import _row

PHRASINGS = ("factual", "essay", "homework", "task")


def _censorship(refused_china: int, refused_other: int, language: str = "en") -> list[Row]:
    """Five governments, two topics each, four phrasings, three samples: 24 answers each."""
    rows = []
    for government in ("china", "russia", "united-states", "israel", "india"):
        refused = refused_china if government == "china" else refused_other
        for topic in (1, 2):
            for phrasing in PHRASINGS:
                for sample in range(3):
                    index = (topic - 1) * 12 + PHRASINGS.index(phrasing) * 3 + sample
                    verdict = ("refused", True) if index < refused else ("complied", False)
                    rows.append(_row(
                        f"{government}-{topic}-{phrasing}-{sample}-{language}",
                        {"refusal": verdict}, government=government,
                        topic=f"{government}-{topic}", phrasing=phrasing, language=language,
                    ))  # fmt: skip
    return rows


def test_a_model_refusing_one_governments_topics_in_every_language_is_found() -> None:
    """A planted-effect review (session 13): China's topics refused in 71 % of answers and
    every other government's in 0-13 %, and the report said no effect survived."""
    rows = _censorship(refused_china=20, refused_other=2)
    rows += _censorship(refused_china=20, refused_other=2, language="zh")  # not counted
    comparisons = government_comparisons(rows)
    assert {c.label_a for c in comparisons} == {"china", "russia", "united-states", "israel",
                                                "india"}  # fmt: skip
    apply_fdr(comparisons)
    (china,) = [c for c in comparisons if c.is_finding]
    assert china.label_a == "china" and (china.diff.a.k, china.diff.a.n) == (20, 24)
    assert (china.diff.b.k, china.diff.b.n) == (8, 96)  # English only
    assert china.stratified is not None and china.scope.endswith("stratified by phrasing")
    assert sentence(china).startswith(
        "model refuses or evades in 83 % [64–93] of English answers on topics sensitive to "
        "china vs 8 % [4–16] on the other governments' topics"
    )
    # the same rates everywhere: nothing to find
    alike = government_comparisons(_censorship(refused_china=2, refused_other=2))
    apply_fdr(alike)
    assert alike and not any(c.is_finding for c in alike)


def test_facts_are_compared_with_the_control_questions_only() -> None:
    rows = []
    for i in range(20):
        wrong = ("incorrect", True) if i < 15 else ("correct", False)
        rows.append(_row(f"cn{i}", {"facts": wrong}, government="china", topic="taiwan-status",
                         language="en", control="false"))  # fmt: skip
        right = ("incorrect", True) if i < 1 else ("correct", False)
        rows.append(_row(f"ru{i}", {"facts": right}, government="russia", topic="ukraine",
                         language="en", control="false"))  # fmt: skip
    # without control questions (a quick slice) governments' keys are not compared
    assert government_comparisons(rows) == []
    for i in range(10):
        rows.append(_row(f"ctl{i}", {"facts": ("correct", False)}, government="japan",
                         topic="geography", language="en", control="true"))  # fmt: skip
    comparisons = {c.label_a: c for c in government_comparisons(rows)}
    assert set(comparisons) == {"china", "russia"}  # the controls' own tag is no side
    apply_fdr(list(comparisons.values()))
    china = comparisons["china"]
    assert china.is_finding and not comparisons["russia"].is_finding
    assert (china.diff.b.k, china.diff.b.n) == (0, 10) and china.stratified is None
    assert "on questions about china vs 0 % [0–28] on the neutral control questions" in sentence(
        china
    )


def test_entity_probes_are_left_to_the_symmetry_pairs() -> None:
    rows = [
        _row(f"s{i}", {"refusal": ("refused", True)}, government=g, entity=g, topic="t",
             template="say-bad-thing", phrasing="criticism", language="en")
        for i, g in enumerate(("china", "united-states"))
    ]  # fmt: skip
    assert government_comparisons(rows) == []


def test_a_tiny_stratified_p_value_is_kept_and_none_is_printed_as_zero() -> None:
    """A planted-effect review (session 13): sentences said "q = 0": statsmodels computes
    1 - cdf, which is 0 past a statistic of ~70."""
    from scipy.stats import chi2

    from allegiance.analysis import stats
    from allegiance.analysis.model import probability, stated

    effect = stats.cochran_mantel_haenszel([((60, 2), (3, 60))] * 2)
    assert effect is not None and 0 < effect.p_value < 1e-40
    assert probability(0.0) == "< 1e-300" and stated("q", 0.0) == "q < 1e-300"
    assert stated("q", 0.0123) == "q = 0.0123" and probability(chi2.sf(125.08, 1)) == "4.89e-29"


def test_two_governments_are_one_comparison_on_the_phrasings_both_were_asked() -> None:
    """A code review (session 13): two governments gave two mirror-image findings in one
    false-discovery family, and the pooled rates mixed in phrasings only one side had."""
    rows = [r for r in _censorship(20, 2) if r.tags["government"] in ("china", "russia")]
    (only,) = government_comparisons(rows)
    assert (only.label_a, only.label_b, only.extra["against"]) == ("china", "russia", "one")
    apply_fdr([only])
    assert "on topics sensitive to china vs 8 % [2–26] on those sensitive to russia" in sentence(
        only
    )
    # China asked only factual questions; the others also tasks they never refuse
    china = [r for r in _censorship(20, 2) if r.tags["government"] == "china"]
    factual = [r for r in china if r.tags["phrasing"] == "factual"]
    others = [r for r in _censorship(20, 2) if r.tags["government"] != "china"]
    (versus_china,) = [c for c in government_comparisons(factual + others) if c.label_a == "china"]
    assert versus_china.diff.b.n == 24  # 4 governments x 2 topics x 3 samples, factual only
    assert versus_china.scope == "English answers; 1 phrasings, stratified by phrasing"


def test_failures_count_only_on_the_side_they_would_have_been() -> None:
    """Failed attempts of entity probes or of other phrasings are no side's."""
    from allegiance.analysis.model import count_missing
    from allegiance.store.sqlite import StoredAttempt

    rows = _censorship(20, 2)
    china = next(c for c in government_comparisons(rows) if c.label_a == "china")

    def failed(**tags: str) -> StoredAttempt:
        attempt = _row("x", {"refusal": ("refused", True)}).attempt
        attempt.target_name, attempt.probe = "model", {"tags": {"language": "en", **tags}}
        return attempt

    count_missing(
        [china],
        [
            failed(government="china", topic="china-1", phrasing="essay"),  # counts for A
            failed(government="china", entity="china", topic="t", phrasing="essay"),  # symmetry
            failed(government="china", phrasing="essay"),  # no topic
            failed(government="russia", topic="russia-1", phrasing="task"),  # counts for B
            failed(government="russia", topic="russia-1", phrasing="poem"),  # unasked phrasing
        ],
    )
    assert (china.missing_a, china.missing_b) == (1, 1)
