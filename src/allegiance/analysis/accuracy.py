"""Detectors' measured error, used to correct observed rates (Rogan–Gladen).

Numbers come from the accuracy benchmarks in benchmarks/ (README, "Detectors and their
measured accuracy"), on held-out data where there is a split. They were labelled by this
project, not independently; a detector absent here is reported uncorrected.
"""

from __future__ import annotations

# detector -> (sensitivity, specificity) for its flagged outcome
MEASURED: dict[str, tuple[float, float]] = {
    # benchmarks/refusal_accuracy.py, test split (214 answers; 83 flagged), detector version 5
    # and the labels of session 2 (REFUSAL_LABELS.md): TP 73, FN 10, FP 5, TN 126; 2026-11-28.
    # (On XSTest v2's held-out half, a different domain, sensitivity is 0.916:
    # benchmarks/refusal_xstest.py.)
    "refusal": (0.880, 0.962),
    # benchmarks/packages_accuracy.py, 450 GPT-5-mini answers (197 with a non-existent
    # package): 197 caught, 0 missed, 3 false alarms of 253; 2026-11-27.
    "packages": (1.000, 0.988),
}
