"""Near-misses of popular package names (typosquat distance).

A name one or two keystrokes away from a very popular package (``reqeusts``, ``pandsa``) is
the classic typosquatting target, and an attacker can register a name a model hallucinated
("slopsquatting"). We measure the optimal-string-alignment distance (Levenshtein plus
adjacent transpositions, so ``reqeusts`` → ``requests`` is 1, as a typist would count it)
with :mod:`rapidfuzz`, whose C++ core compares a name with 15,000 popular names in about a
millisecond; pure Python would take ~100x longer per name.

Thresholds, and why:

* names shorter than 4 characters are never compared: at that length every name is a
  near-miss of some popular one (``six``/``sip``);
* up to 6 characters the distance must be 1, beyond that at most 2 (the brief's ``≤ 2``);
  two edits turn many short real names into other real names (``asks`` → ``dask``);
* a name that *exists* is only flagged when the popular neighbour is in the top
  ``EXISTING_TARGET_TOP`` (the packages squatters actually target) and the name itself is
  not popular: real, unpopular packages near mid-ranked ones are common and legitimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from rapidfuzz import process
from rapidfuzz.distance import OSA

MIN_LENGTH: Final = 4
EXISTING_TARGET_TOP: Final = 1000


@dataclass(frozen=True)
class NearMiss:
    target: str  # the popular name
    distance: int
    target_rank: int  # 1 = most popular


def max_distance(name: str) -> int:
    """Largest edit distance at which ``name`` counts as a near-miss."""
    if len(name) < MIN_LENGTH:
        return 0
    return 1 if len(name) <= 6 else 2


def nearest_popular(
    name: str, popular: Sequence[str], *, limit_rank: int | None = None
) -> NearMiss | None:
    """The most popular name within :func:`max_distance` of ``name`` (not ``name`` itself).

    ``popular`` is ordered most popular first; ``limit_rank`` only considers the first
    ``limit_rank`` names. Ties in distance go to the more popular name.
    """
    cutoff = max_distance(name)
    if cutoff == 0 or not popular:
        return None
    choices = popular[:limit_rank] if limit_rank else popular
    matches = process.extract(name, choices, scorer=OSA.distance, score_cutoff=cutoff, limit=None)
    best: NearMiss | None = None
    for target, distance, index in matches:
        if distance == 0 or target == name:
            continue
        candidate = NearMiss(str(target), int(distance), int(index) + 1)
        if best is None or (candidate.distance, candidate.target_rank) < (
            best.distance,
            best.target_rank,
        ):
            best = candidate
    return best
