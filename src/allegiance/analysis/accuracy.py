"""Detectors' measured error, used to correct observed rates (Rogan–Gladen).

Numbers come from the accuracy benchmarks in benchmarks/ (README, "Detectors and their
measured accuracy"), on held-out data where there is a split. They were labelled by this
project, not independently; a detector absent here is reported uncorrected.
"""

from __future__ import annotations

# detector -> (sensitivity, specificity) for its flagged outcome
MEASURED: dict[str, tuple[float, float]] = {
    # benchmarks/refusal_accuracy.py, test split (214 answers; 82 flagged): TP 67, FN 15,
    # FP 3, TN 129; 2026-11-27.
    "refusal": (0.817, 0.977),
    # benchmarks/packages_accuracy.py, 450 GPT-5-mini answers (197 with a non-existent
    # package): 197 caught, 0 missed, 3 false alarms of 253; 2026-11-27.
    "packages": (1.000, 0.988),
}
