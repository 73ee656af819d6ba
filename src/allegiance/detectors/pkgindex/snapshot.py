"""The offline snapshot of registry names shipped with allegiance.

Each ecosystem is a sorted, newline-separated, xz-compressed list of names (built by
:mod:`.build`). It is loaded on first use into one ``bytes`` object and searched by
bisection, which keeps ~900,000 PyPI names in ~13 MB instead of the ~90 MB a Python ``set``
of strings would take, at a few microseconds per lookup.

Whether a *missing* name means "does not exist" depends on the list: ``snapshot.json``
records, per ecosystem, whether the list is complete. The PyPI list is every project name
on the day it was made; the npm list only holds packages above a download threshold, so a
name it lacks is merely *unknown* offline.
"""

from __future__ import annotations

import json
import lzma
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allegiance.detectors.pkgindex.names import ECOSYSTEMS, Ecosystem, normalize
from allegiance.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parent / "data"


class SortedNames:
    """Membership over a sorted, newline-separated ASCII name list, by bisection."""

    def __init__(self, blob: bytes) -> None:
        # A leading and trailing newline make every name sit between two newlines.
        self._blob = blob if blob.startswith(b"\n") else b"\n" + blob
        if not self._blob.endswith(b"\n"):
            self._blob += b"\n"
        self.count = self._blob.count(b"\n") - 1

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or "\n" in name:
            return False
        try:
            target = name.encode("ascii")
        except UnicodeEncodeError:
            return False
        blob = self._blob
        # Invariant: blob[lo] and blob[hi] are newlines; the name, if present, is a line
        # strictly between them.
        lo, hi = 0, len(blob) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            newline = blob.rfind(b"\n", lo, mid + 1)  # the line holding byte mid starts after it
            start = newline + 1
            end = blob.find(b"\n", start, hi + 1)
            if end <= start:
                return False
            current = blob[start:end]
            if current == target:
                return True
            if current < target:
                lo = end
            else:
                hi = newline
        return False


@dataclass(frozen=True)
class EcosystemInfo:
    """What the snapshot says about one ecosystem's list (from ``snapshot.json``)."""

    names: int
    popular: int
    complete: bool
    source: str


class Snapshot:
    """The shipped name lists, loaded lazily and safely shared between threads."""

    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        self.data_dir = data_dir
        meta_path = data_dir / "snapshot.json"
        try:
            meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"package snapshot metadata {meta_path} is missing or unreadable ({exc}); "
                "reinstall allegiance or rebuild it with allegiance.detectors.pkgindex.build"
            ) from exc
        self.made = str(meta.get("made", "unknown"))
        self.info: dict[str, EcosystemInfo] = {}
        for ecosystem, entry in (meta.get("ecosystems") or {}).items():
            self.info[ecosystem] = EcosystemInfo(
                names=int(entry["names"]),
                popular=int(entry["popular"]),
                complete=bool(entry["complete"]),
                source=str(entry["source"]),
            )
        self._names: dict[str, SortedNames] = {}
        self._popular: dict[str, tuple[str, ...]] = {}
        self._popular_rank: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def _read(self, filename: str) -> bytes:
        path = self.data_dir / filename
        try:
            return lzma.decompress(path.read_bytes())
        except (OSError, lzma.LZMAError) as exc:
            raise ConfigError(
                f"package snapshot file {path} is missing or corrupt ({exc})"
            ) from exc

    def _names_for(self, ecosystem: Ecosystem) -> SortedNames:
        names = self._names.get(ecosystem)
        if names is None:
            with self._lock:
                names = self._names.get(ecosystem)
                if names is None:
                    names = SortedNames(self._read(f"{ecosystem}-names.txt.xz"))
                    self._names[ecosystem] = names
        return names

    def load_all(self) -> None:
        """Decompress every name list now (~0.25 s) instead of at the first lookup."""
        for ecosystem in ECOSYSTEMS:
            if ecosystem in self.info:
                self._names_for(ecosystem)
                self.popular(ecosystem)

    def covers(self, ecosystem: str) -> bool:
        return ecosystem in self.info

    def complete(self, ecosystem: str) -> bool:
        info = self.info.get(ecosystem)
        return bool(info and info.complete)

    def contains(self, ecosystem: Ecosystem, name: str) -> bool:
        """True if the snapshot lists ``name`` (in the registry's canonical form)."""
        if ecosystem not in self.info:
            return False
        names = self._names_for(ecosystem)
        canonical = normalize(ecosystem, name)
        if canonical in names:
            return True
        # npm: a few hundred legacy names have capitals; compare case-insensitively too.
        return ecosystem == "npm" and canonical.lower() != canonical and canonical.lower() in names

    def popular(self, ecosystem: Ecosystem) -> Sequence[str]:
        """The most popular names, most popular first (the typosquat targets)."""
        popular = self._popular.get(ecosystem)
        if popular is None:
            if ecosystem not in self.info:
                return ()
            with self._lock:
                popular = self._popular.get(ecosystem)
                if popular is None:
                    text = self._read(f"{ecosystem}-popular.txt.xz").decode("ascii")
                    popular = tuple(line for line in text.split("\n") if line)
                    self._popular_rank[ecosystem] = {n: i + 1 for i, n in enumerate(popular)}
                    self._popular[ecosystem] = popular
        return popular

    def popularity_rank(self, ecosystem: Ecosystem, name: str) -> int | None:
        """1 for the most popular package; None outside the popular list."""
        self.popular(ecosystem)
        return self._popular_rank.get(ecosystem, {}).get(normalize(ecosystem, name))

    def describe(self) -> dict[str, Any]:
        """A small, JSON-ready identity of this snapshot (stored in verdict evidence)."""
        return {
            "made": self.made,
            "ecosystems": {
                eco: {"names": info.names, "complete": info.complete}
                for eco, info in self.info.items()
                if eco in ECOSYSTEMS
            },
        }
