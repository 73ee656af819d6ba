"""Tensor layout checks shared by the GGUF and safetensors scanners.

Both formats declare where each tensor's bytes lie in one data section. Walking the spans in
order of their start, with the end of everything seen so far, finds the overlaps (two tensors
sharing bytes, a way to smuggle content or confuse a loader) and the gaps (bytes no tensor
owns, a place to hide a payload); each scanner decides how to report them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def sweep(spans: Iterable[tuple[int, int, str]]) -> Iterator[tuple[int, int, str, int, str]]:
    """(begin, end, name, covered, previous) for each span in order of its start, where
    ``covered`` is the furthest end of the spans before it and ``previous`` the one that
    reached it. ``begin < covered`` is an overlap; ``begin > covered`` a gap."""
    covered, previous = 0, ""
    for begin, end, name in sorted(spans):
        yield begin, end, name, covered, previous
        if end > covered:
            covered, previous = end, name


def covered_end(spans: Iterable[tuple[int, int, str]]) -> int:
    """Where the last tensor's bytes end (0 without tensors): data past it belongs to none."""
    return max((end for _, end, _ in spans), default=0)


__all__ = ["covered_end", "sweep"]
