"""Detectors: pure functions from (probe, response) to a verdict."""

from allegiance.detectors.base import DetectorInfo, Verdict, get_detector, register

__all__ = ["DetectorInfo", "Verdict", "get_detector", "register"]
