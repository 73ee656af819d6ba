"""The on-disk cache of online registry lookups.

Online lookups (:mod:`.online`) are slow and need the network, so their answers are kept in
one small JSON file, ``pkgindex.json`` in the user cache directory
(``$ALLEGIANCE_CACHE_DIR``, else ``$XDG_CACHE_HOME/allegiance``, else
``~/.cache/allegiance``). The detector only *reads* it; only an explicit online step writes
it. The file is plain JSON so a user can inspect or delete it by hand::

    {"format": 1, "entries": {"pypi:requests": {"exists": true, "checked": "2026-11-27T19:00:00Z"}}}

Writes go to a temporary file that is renamed over the old one, so a crash mid-write never
leaves a truncated cache; a corrupt cache is reported with its path rather than ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from allegiance.detectors.pkgindex.names import Ecosystem, key
from allegiance.errors import ConfigError

CACHE_FILENAME = "pkgindex.json"
FORMAT = 1


def default_cache_dir() -> Path:
    """Where allegiance keeps caches (see module docstring for the order of precedence)."""
    explicit = os.environ.get("ALLEGIANCE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "allegiance"


def default_cache_path() -> Path:
    return default_cache_dir() / CACHE_FILENAME


@dataclass(frozen=True)
class CacheEntry:
    exists: bool
    checked: str  # ISO 8601, UTC

    def age_days(self, now: datetime) -> float:
        try:
            then = datetime.fromisoformat(self.checked.replace("Z", "+00:00"))
        except ValueError:
            return float("inf")
        return (now - then).total_seconds() / 86400


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LookupCache:
    """Registry answers keyed by ``ecosystem:canonical-name``."""

    def __init__(self, path: Path | None = None, entries: Mapping[str, CacheEntry] | None = None):
        self.path = path
        self._entries: dict[str, CacheEntry] = dict(entries or {})

    @classmethod
    def load(cls, path: Path | None = None) -> LookupCache:
        """Read the cache at ``path`` (default location if None); an absent file is empty."""
        path = path or default_cache_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise ConfigError(f"cannot read the package lookup cache {path}: {exc}") from exc
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                raise ValueError(f"expected an object with format {FORMAT}")
            entries = {
                str(k): CacheEntry(exists=bool(v["exists"]), checked=str(v.get("checked", "")))
                for k, v in (raw.get("entries") or {}).items()
            }
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConfigError(
                f"the package lookup cache {path} is corrupt ({exc}); delete it and run the "
                "online lookup again"
            ) from exc
        return cls(path, entries)

    def get(self, ecosystem: Ecosystem, name: str) -> CacheEntry | None:
        return self._entries.get(key(ecosystem, name))

    def put(
        self, ecosystem: Ecosystem, name: str, exists: bool, checked: str | None = None
    ) -> None:
        self._entries[key(ecosystem, name)] = CacheEntry(exists, checked or utc_now_iso())

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> Iterator[tuple[str, CacheEntry]]:
        return iter(sorted(self._entries.items()))

    def save(self) -> Path:
        """Write the cache atomically to its path and return the path."""
        if self.path is None:
            raise ConfigError("this package lookup cache has no file to save to")
        payload = {
            "format": FORMAT,
            "entries": {k: {"exists": e.exists, "checked": e.checked} for k, e in self.items()},
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".pkgindex-", suffix=".json", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(payload, handle, indent=1, sort_keys=True)
                    handle.write("\n")
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ConfigError(f"cannot write the package lookup cache {self.path}: {exc}") from exc
        return self.path
