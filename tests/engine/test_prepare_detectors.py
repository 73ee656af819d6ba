"""Detectors load their data on a background thread while a run waits for answers."""

from __future__ import annotations

import pytest

from allegiance.detectors.base import available_detectors, get_detector
from allegiance.detectors.text_markers import load_markers
from allegiance.engine.detect import prepare_in_background


@pytest.mark.parametrize("name", available_detectors())
def test_every_detectors_preparation_runs(name: str) -> None:
    detector = get_detector(name)
    if detector.prepare is not None:
        detector.prepare()  # raises if a loader is broken


def test_preparing_fills_the_caches_the_first_verdict_would_fill() -> None:
    load_markers.cache_clear()
    assert load_markers.cache_info().currsize == 0
    thread = prepare_in_background(["refusal", "refusal", "facts"])
    thread.join(timeout=60)
    assert not thread.is_alive() and thread.daemon
    assert load_markers.cache_info().currsize == 1


def test_a_detector_that_cannot_load_is_left_for_the_real_call() -> None:
    load_markers.cache_clear()
    thread = prepare_in_background(["no-such-detector", "refusal"])
    thread.join(timeout=60)
    assert not thread.is_alive()  # no exception escaped; the known one still loaded
    assert load_markers.cache_info().currsize == 1


def test_overlapping_preparations_give_back_the_interpreters_switch_interval() -> None:
    """A code review (session 13): each preparation restored the interval it had seen, so
    two overlapping ones left 0.5 ms for good."""
    import sys
    import threading

    from allegiance.engine import detect

    before = sys.getswitchinterval()
    inside = threading.Barrier(2)
    release = threading.Event()

    def hold() -> None:
        with detect._short_switch_interval():
            inside.wait(timeout=10)
            release.wait(timeout=10)

    first = threading.Thread(target=hold)
    first.start()
    with detect._short_switch_interval():
        inside.wait(timeout=10)
        assert sys.getswitchinterval() == 0.0005
        release.set()
        first.join(timeout=10)
        assert sys.getswitchinterval() == 0.0005  # still one preparation running
    assert sys.getswitchinterval() == before
