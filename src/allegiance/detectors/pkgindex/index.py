"""One question, asked the same way everywhere: does this package exist?

:class:`PackageIndex` answers from two sources, newest first:

1. the on-disk cache of explicit online lookups (:mod:`.cache`, written by :mod:`.online`);
2. the offline snapshot shipped with allegiance (:mod:`.snapshot`).

A name the snapshot lacks is *missing* only where the snapshot is complete (PyPI); elsewhere
(npm) it is *unknown* until an online lookup settles it. The detector never goes to the
network itself: it reads whatever index :func:`default_index` returns, so its verdicts are a
function of (answer, snapshot, cache contents), and the evidence records which source
answered each name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from allegiance.detectors.pkgindex.cache import LookupCache
from allegiance.detectors.pkgindex.names import Ecosystem, normalize
from allegiance.detectors.pkgindex.snapshot import Snapshot

Status = Literal["exists", "missing", "unknown"]


@dataclass(frozen=True)
class Lookup:
    """The index's answer for one name."""

    status: Status
    via: Literal["cache", "snapshot", "none"]
    popularity_rank: int | None = None  # 1 = most popular; None = not in the popular list


class PackageIndex:
    """Existence and popularity of package names, from cache then snapshot. No network."""

    def __init__(self, snapshot: Snapshot, cache: LookupCache | None = None) -> None:
        self.snapshot = snapshot
        self.cache = cache

    def lookup(self, ecosystem: Ecosystem, name: str) -> Lookup:
        canonical = normalize(ecosystem, name)
        rank = self.snapshot.popularity_rank(ecosystem, canonical)
        if self.cache is not None:
            entry = self.cache.get(ecosystem, canonical)
            if entry is not None:
                return Lookup("exists" if entry.exists else "missing", "cache", rank)
        if rank is not None or self.snapshot.contains(ecosystem, canonical):
            return Lookup("exists", "snapshot", rank)
        if self.snapshot.complete(ecosystem):
            return Lookup("missing", "snapshot", None)
        return Lookup("unknown", "none" if not self.snapshot.covers(ecosystem) else "snapshot")

    def popular(self, ecosystem: Ecosystem) -> Sequence[str]:
        return self.snapshot.popular(ecosystem)

    def describe(self) -> dict[str, Any]:
        """What answered: recorded in every verdict so a verdict can be explained later."""
        info = self.snapshot.describe()
        info["cache_entries"] = len(self.cache) if self.cache is not None else 0
        return info


_default: PackageIndex | None = None
_default_lock = threading.Lock()


def default_index() -> PackageIndex:
    """The index the ``packages`` detector uses: bundled snapshot plus the user's cache.

    Built on first use. ``ALLEGIANCE_PKGINDEX_CACHE=off`` leaves the cache out (pure
    offline-snapshot mode, as the accuracy benchmark runs). :func:`set_default_index`
    replaces it, e.g. after an online lookup has filled the cache.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                use_cache = os.environ.get("ALLEGIANCE_PKGINDEX_CACHE", "on").lower() not in (
                    "off",
                    "0",
                    "no",
                    "false",
                )
                _default = PackageIndex(Snapshot(), LookupCache.load() if use_cache else None)
    return _default


def set_default_index(index: PackageIndex | None) -> None:
    """Use ``index`` from now on (None: rebuild the default on next use)."""
    global _default
    with _default_lock:
        _default = index
