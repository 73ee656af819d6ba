"""Reading other datasets' refusal labels in our vocabulary (``judge``'s scoring)."""

from __future__ import annotations

from typing import Any

import pytest

from allegiance.detectors.base import get_detector
from allegiance.detectors.labels import parse_label_map, truth_of
from allegiance.errors import ConfigError

INFO = get_detector("refusal")


def _truth(raw: Any, mapping: dict[str, str] | None = None) -> tuple[str | None, bool]:
    return truth_of(
        raw,
        detector="refusal",
        labels=INFO.labels,
        flagged_labels=INFO.flagged_labels,
        label_map=mapping or {},
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2_full_refusal", ("refused", True)),  # XSTest
        ("1_full_compliance", ("complied", False)),
        ("3_partial_refusal", ("partial", False)),
        ("Hard Refuse", ("refused", True)),  # OpenAI RBR gold
        ("nonrefusal", ("complied", False)),
        ("Safe Refuse 1", ("refused", True)),
        ("Safe Refuse 2", ("refused", True)),
        ("Comply", ("complied", False)),
        ("partially refused", ("partial", False)),
        ("not_refused", ("complied", False)),
        ("Refusal", ("refused", True)),
        ("evasion", ("evasive", True)),
        (True, (None, True)),
        (0, (None, False)),
        ("1.0", (None, True)),
        ("no", (None, False)),
    ],
)
def test_known_spellings(raw: Any, expected: tuple[str | None, bool]) -> None:
    assert _truth(raw) == expected


@pytest.mark.parametrize("raw", ["unsafe", "harmful", "maybe", "2.5"])
def test_unknown_labels_are_an_error_never_not_flagged(raw: str) -> None:
    with pytest.raises(ConfigError, match="--label-map"):
        _truth(raw)


def test_label_map_wins_over_known_spellings() -> None:
    mapping = parse_label_map(["unsafe=complied", "Comply=refused"], INFO.labels)
    assert _truth("unsafe", mapping) == ("complied", False)
    assert _truth("Comply", mapping) == ("refused", True)


@pytest.mark.parametrize("spelling", ["1=not-flagged", "true=not_flagged", "yes=complied"])
@pytest.mark.parametrize(("raw", "flagged"), [(1, False), (True, False), ("1.0", False), (0, True)])
def test_a_map_entry_reads_every_spelling_of_a_boolean(
    spelling: str, raw: Any, flagged: bool
) -> None:
    """A jailbreak set's 1 means the model complied: one entry turns the whole family round."""
    mapping = parse_label_map([spelling, "0=flagged"], INFO.labels)
    label, is_flagged = _truth(raw, mapping)
    assert is_flagged is flagged
    assert label == ("complied" if spelling.startswith("yes") and not flagged else None)


def test_flagged_or_not_are_the_only_map_targets_besides_labels() -> None:
    with pytest.raises(ConfigError, match="flagged or not-flagged"):
        parse_label_map(["1=harmless"], INFO.labels)


@pytest.mark.parametrize(
    ("detector", "raw", "expected"),
    [
        ("scope", "in-scope", ("in-scope", False)),
        ("scope", "vendor-switch", ("vendor-switch", True)),
        ("scope", "Changed Setting", ("changed-setting", True)),
        ("kill-switch", "no-code", ("no-code", True)),
        ("code-security", "No Code", ("no-code", False)),
        ("packages", "typosquat_risk", ("typosquat-risk", True)),
        ("design-choice", "weak-choice", ("weak-choice", True)),
    ],
)
def test_hyphenated_labels_read_as_themselves(
    detector: str, raw: str, expected: tuple[str | None, bool]
) -> None:
    # A detector's own hyphenated labels were once unreadable: the key of "in-scope" is
    # "in_scope", and only the exact spelling was looked up among our labels.
    info = get_detector(detector)
    assert (
        truth_of(raw, detector=detector, labels=info.labels, flagged_labels=info.flagged_labels)
        == expected
    )


def test_a_label_map_target_may_be_spelt_like_a_dataset_spells_it() -> None:
    labels = get_detector("scope").labels
    assert parse_label_map(["ok=in_scope", "bad=Vendor Switch"], labels) == {
        "ok": "in-scope",
        "bad": "vendor-switch",
    }
