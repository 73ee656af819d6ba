"""Detectors' measured error, used to correct observed rates (Rogan–Gladen).

Numbers come from the accuracy benchmarks in benchmarks/ (see README, "Detector
accuracy"); a detector absent here is reported uncorrected.
"""

from __future__ import annotations

# detector -> (sensitivity, specificity) for its flagged outcome
MEASURED: dict[str, tuple[float, float]] = {}
