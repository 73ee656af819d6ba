"""Read other people's labels in our vocabulary.

Why: ``allegiance judge`` validates a detector on labelled data collected elsewhere, and
every dataset spells its labels its own way: XSTest writes ``1_full_compliance`` /
``2_full_refusal`` / ``3_partial_refusal``, others write ``refusal``/``compliance``,
``yes``/``no`` or a boolean ``is_refusal``. Scoring such data must not depend on the user
rewriting it, and must never silently treat an unknown label as "not flagged" (that would
inflate or deflate precision without anyone noticing). So: known spellings are mapped,
explicit ``--label-map`` entries win, booleans mean "flagged or not", and anything else is an
error naming the label.

Booleans are the one place where a dataset's meaning can be the opposite of ours: a
jailbreak set's ``1`` means the model *complied*. ``--label-map 1=not-flagged`` (or
``true=complied``) says so; a map entry applies to booleans and 0/1 as well as to words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from allegiance.errors import ConfigError

# Spellings seen in public refusal datasets and tools, mapped to the refusal detector's labels.
_REFUSAL_ALIASES: dict[str, str] = {
    "complied": "complied",
    "comply": "complied",
    "complies": "complied",
    "compliance": "complied",
    "full_compliance": "complied",
    "answered": "complied",
    "answer": "complied",
    "not_refusal": "complied",
    "no_refusal": "complied",
    "non_refusal": "complied",
    "nonrefusal": "complied",
    "refused": "refused",
    "refuse": "refused",
    "refuses": "refused",
    "refusal": "refused",
    "full_refusal": "refused",
    "rejected": "refused",
    "declined": "refused",
    "decline": "refused",
    "declines": "refused",
    # OpenAI's RBR vocabulary (Mu et al. 2024): hard and "safe" (supportive) refusals
    "hard_refuse": "refused",
    "safe_refuse": "refused",
    "safe_refuse_1": "refused",
    "safe_refuse_2": "refused",
    "soft_refuse": "refused",
    "hard_refusal": "refused",
    "soft_refusal": "refused",
    "not_refused": "complied",
    "not_refuse": "complied",
    "compliant": "complied",
    "uncensored": "complied",
    "not_censored": "complied",
    "partial": "partial",
    "partial_refusal": "partial",
    "partial_compliance": "partial",
    "partially_complied": "partial",
    "partially_refused": "partial",
    "refusal_partial": "partial",
    "partial_refuse": "partial",
    "evasive": "evasive",
    "evasion": "evasive",
    "evaded": "evasive",
    "deflection": "evasive",
    "deflected": "evasive",
}
ALIASES: dict[str, Mapping[str, str]] = {"refusal": _REFUSAL_ALIASES}

# What a map entry may say besides one of the detector's labels: only flagged or not. The same
# words, as a dataset's own labels, are read as booleans.
FLAGGED_ONLY = {"flagged": True, "not_flagged": False, "unflagged": False}
_TRUE = frozenset({"true", "yes", "y", "censored"} | {k for k, v in FLAGGED_ONLY.items() if v})
_FALSE = frozenset({"false", "no", "n"} | {k for k, v in FLAGGED_ONLY.items() if not v})
# "1"/"1.0" are booleans too: _WHOLE_NUMBER
# "2_full_refusal" -> "full_refusal": a number prefix only when words follow ("1.0" stays)
_NUMBER_PREFIX = re.compile(r"^\d+[_.)\s-]+(?=[^\W\d_])")
_WHOLE_NUMBER = re.compile(r"^[+-]?\d+(?:\.0+)?$")
_SEPARATORS = re.compile(r"[\s\-]+")


def _key(raw: str) -> str:
    """``"2_full_refusal"`` -> ``"full_refusal"``; ``"Full Refusal"`` -> ``"full_refusal"``."""
    text = _SEPARATORS.sub("_", raw.strip().casefold())
    return _NUMBER_PREFIX.sub("", text) or text


def parse_label_map(
    entries: tuple[str, ...] | list[str], labels: tuple[str, ...]
) -> dict[str, str]:
    """``["unhelpful=refused", "1=not-flagged", ...]`` from the command line -> {key: ours}.

    OURS is one of the detector's labels, or ``flagged`` / ``not-flagged`` when the dataset
    says only that (kept as ``flagged`` / ``not_flagged``).
    """
    mapping: dict[str, str] = {}
    for entry in entries:
        raw, sep, ours = entry.rpartition("=")
        if not sep or not raw.strip():
            raise ConfigError(f"--label-map needs THEIRS=OURS, got {entry!r}")
        target = ours.strip()
        target = {_key(label): label for label in labels}.get(_key(target), target)
        if target not in labels and _key(target) in FLAGGED_ONLY:
            target = _key(target)
        if target not in labels and target not in FLAGGED_ONLY:
            raise ConfigError(
                f"--label-map {entry!r}: {ours.strip()!r} is not one of {', '.join(labels)}, "
                "flagged or not-flagged"
            )
        key = _boolean_key(raw.strip()) or _key(raw)
        if mapping.get(key, target) != target:
            raise ConfigError(
                f"--label-map reads {raw.strip()!r} both as {mapping[key]!r} and as {target!r}; "
                "give one"
            )
        mapping[key] = target
    return mapping


def _boolean_key(raw: object) -> str | None:
    """``True``/``"true"``/``"yes"`` -> ``"true"``, ``1``/``"1.0"`` -> ``"1"`` (and the negatives):
    one key per spelling family, so that a map entry written one way reads the others."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float) and raw in (0, 1):
        return "1" if raw else "0"
    if isinstance(raw, str):
        text = raw.strip()
        if _WHOLE_NUMBER.match(text) and float(text) in (0.0, 1.0):
            return "1" if float(text) else "0"
        key = _key(text)
        if key in _TRUE:
            return "true"
        if key in _FALSE:
            return "false"
    return None


def truth_of(
    raw: object,
    *,
    detector: str,
    labels: tuple[str, ...],
    flagged_labels: tuple[str, ...],
    label_map: Mapping[str, str] | None = None,
) -> tuple[str | None, bool]:
    """(our label or None, flagged) for one record's human label.

    A boolean (or yes/no, 1/0) says only whether the record is flagged, so the label is None,
    unless ``label_map`` says what it means (``{"1": "not_flagged"}`` for a jailbreak set).
    Raises :class:`ConfigError` for a label we cannot read.
    """
    mapping = label_map or {}
    if isinstance(raw, str) and _key(raw) in mapping:
        return _mapped(mapping[_key(raw)], flagged_labels)
    boolean = _boolean_key(raw)
    if boolean is not None:
        # true, yes and 1 are one family, false, no and 0 the other: an entry for one applies
        twin = {"1": "true", "true": "1", "0": "false", "false": "0"}[boolean]
        ours = mapping.get(boolean) or mapping.get(twin)
        if ours is not None:
            return _mapped(ours, flagged_labels)
        return None, boolean in ("1", "true")
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"label {raw!r} is not a label")
    key = _key(raw)
    # our own labels as the same key: "in-scope", "In Scope" and "in_scope" are one label
    ours = {_key(label): label for label in labels}.get(key) or ALIASES.get(detector, {}).get(key)
    if ours is not None:
        return _mapped(ours, flagged_labels)
    raise ConfigError(
        f"label {raw!r} is not one of {', '.join(labels)} (or a known alias); "
        f"say what it means with --label-map '{raw}=LABEL'"
    )


def _mapped(ours: str, flagged_labels: tuple[str, ...]) -> tuple[str | None, bool]:
    if ours in FLAGGED_ONLY:
        return None, FLAGGED_ONLY[ours]
    return ours, ours in flagged_labels


__all__ = ["ALIASES", "FLAGGED_ONLY", "parse_label_map", "truth_of"]
