"""Build the offline snapshot shipped in ``data/`` from registry name lists.

Run by a maintainer, never at audit time::

    python -m allegiance.detectors.pkgindex.build \\
        --pypi /work/.library/env/packages/pypi.tsv --npm /work/.library/env/packages/npm.tsv

Inputs are tab-separated lists with a header line. PyPI columns: ``name, version, month,
rank_among_15000_most_downloaded, summary``; npm columns: ``name, version,
downloads_a_month, summary``. Only names and popularity are kept: the snapshot is a set of
names (xz-compressed, sorted, one per line, so :mod:`.snapshot` can binary-search it without
building a Python set of a million strings) plus the most popular names in popularity order
(the typosquat targets).

``complete`` in ``snapshot.json`` says whether a name's *absence* from the list means the
package does not exist. It is a measured claim, not a default: pass ``--pypi-complete`` only
after checking the list against independent evidence (see the README's coverage note).
"""

from __future__ import annotations

import argparse
import csv
import json
import lzma
import sys
from collections.abc import Iterator
from pathlib import Path

from allegiance.detectors.pkgindex.names import Ecosystem, is_valid, normalize

DATA_DIR = Path(__file__).resolve().parent / "data"
POPULAR_COUNT = 15_000


def _rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)


def _write_xz_lines(path: Path, lines: list[str]) -> int:
    payload = ("\n".join(lines) + "\n").encode("ascii")
    path.write_bytes(lzma.compress(payload, preset=9 | lzma.PRESET_EXTREME))
    return path.stat().st_size


def build(pypi_tsv: Path, npm_tsv: Path, out: Path, *, pypi_complete: bool, made: str) -> dict:
    """Write the snapshot files into ``out`` and return the metadata written."""
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, object] = {"format": 1, "made": made, "ecosystems": {}}
    ecosystems: dict[str, object] = {}

    pypi_names: set[str] = set()
    ranked: list[tuple[int, str]] = []
    latest_month = ""
    for row in _rows(pypi_tsv):
        name = row.get("name") or ""
        if not is_valid("pypi", name):
            continue
        canonical = normalize("pypi", name)
        pypi_names.add(canonical)
        rank = (row.get("rank_among_15000_most_downloaded") or "").strip()
        if rank.isdigit():
            ranked.append((int(rank), canonical))
        latest_month = max(latest_month, (row.get("month") or "").strip())
    popular_pypi = [name for _, name in sorted(ranked)][:POPULAR_COUNT]
    ecosystems["pypi"] = _write_ecosystem(
        out,
        "pypi",
        sorted(pypi_names),
        popular_pypi,
        complete=pypi_complete,
        source=f"{pypi_tsv.name}: every project name (latest release month {latest_month})",
    )

    npm_names: set[str] = set()
    downloads: list[tuple[int, str]] = []
    least = None
    for row in _rows(npm_tsv):
        name = row.get("name") or ""
        if not is_valid("npm", name):
            continue
        npm_names.add(name)
        count = (row.get("downloads_a_month") or "").strip()
        if count.isdigit():
            downloads.append((int(count), name))
            least = int(count) if least is None else min(least, int(count))
    popular_npm = [name for _, name in sorted(downloads, key=lambda d: (-d[0], d[1]))]
    ecosystems["npm"] = _write_ecosystem(
        out,
        "npm",
        sorted(npm_names),
        popular_npm[:POPULAR_COUNT],
        complete=False,
        source=f"{npm_tsv.name}: packages with at least {least} downloads a month",
    )
    meta["ecosystems"] = ecosystems
    (out / "snapshot.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def _write_ecosystem(
    out: Path,
    ecosystem: Ecosystem,
    names: list[str],
    popular: list[str],
    *,
    complete: bool,
    source: str,
) -> dict[str, object]:
    names_size = _write_xz_lines(out / f"{ecosystem}-names.txt.xz", names)
    popular_size = _write_xz_lines(out / f"{ecosystem}-popular.txt.xz", popular)
    return {
        "names": len(names),
        "popular": len(popular),
        "complete": complete,
        "source": source,
        "bytes": names_size + popular_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pypi", type=Path, required=True)
    parser.add_argument("--npm", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--made", required=True, help="date the lists were made (YYYY-MM-DD)")
    parser.add_argument(
        "--pypi-complete",
        action="store_true",
        help="the PyPI list holds every project (absence means missing)",
    )
    args = parser.parse_args(argv)
    meta = build(args.pypi, args.npm, args.out, pypi_complete=args.pypi_complete, made=args.made)
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
