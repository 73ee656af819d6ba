"""Read other people's labels in our vocabulary.

Why: ``allegiance judge`` validates a detector on labelled data collected elsewhere, and
every dataset spells its labels its own way: XSTest writes ``1_full_compliance`` /
``2_full_refusal`` / ``3_partial_refusal``, others write ``refusal``/``compliance``,
``yes``/``no`` or a boolean ``is_refusal``. Scoring such data must not depend on the user
rewriting it, and must never silently treat an unknown label as "not flagged" (that would
inflate or deflate precision without anyone noticing). So: known spellings are mapped,
explicit ``--label-map`` entries win, booleans mean "flagged or not", and anything else is an
error naming the label.
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

_TRUE = frozenset({"true", "yes", "y", "flagged", "censored"})  # "1"/"1.0": _WHOLE_NUMBER
_FALSE = frozenset({"false", "no", "n", "not_flagged", "unflagged"})
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
    """``["unhelpful=refused", ...]`` from the command line -> {key: our label}."""
    mapping: dict[str, str] = {}
    for entry in entries:
        raw, sep, ours = entry.rpartition("=")
        if not sep or not raw.strip():
            raise ConfigError(f"--label-map needs THEIR=OURS, got {entry!r}")
        if ours.strip() not in labels:
            raise ConfigError(
                f"--label-map {entry!r}: {ours.strip()!r} is not one of {', '.join(labels)}"
            )
        mapping[_key(raw)] = ours.strip()
    return mapping


def truth_of(
    raw: object,
    *,
    detector: str,
    labels: tuple[str, ...],
    flagged_labels: tuple[str, ...],
    label_map: Mapping[str, str] | None = None,
) -> tuple[str | None, bool]:
    """(our label or None, flagged) for one record's human label.

    A boolean (or yes/no, 1/0) says only whether the record is flagged, so the label is None.
    Raises :class:`ConfigError` for a label we cannot read.
    """
    if isinstance(raw, bool):
        return None, raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return None, bool(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"label {raw!r} is not a label")
    key = _key(raw)
    ours = (label_map or {}).get(key)
    if ours is None and _WHOLE_NUMBER.match(raw.strip()) and float(raw) in (0.0, 1.0):
        # "1.0" / "0" as spreadsheets write them: flagged or not
        return None, float(raw) == 1.0
    if ours is None and key in labels:
        ours = key
    if ours is None:
        ours = ALIASES.get(detector, {}).get(key)
    if ours is not None:
        return ours, ours in flagged_labels
    if key in _TRUE:
        return None, True
    if key in _FALSE:
        return None, False
    raise ConfigError(
        f"label {raw!r} is not one of {', '.join(labels)} (or a known alias); "
        f"say what it means with --label-map '{raw}=LABEL'"
    )


__all__ = ["ALIASES", "parse_label_map", "truth_of"]
