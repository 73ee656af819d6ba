"""Detectors' measured error, used to correct observed rates (Rogan–Gladen).

Numbers come from the accuracy benchmarks in benchmarks/ (README, "Detectors and their
measured accuracy"), on held-out data where there is a split. They were labelled by this
project, not independently; a detector absent here is reported uncorrected. The counts are
kept, not only the ratios: a sensitivity measured on 83 answers is uncertain, and the
corrected rate's interval carries that uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    """A detector's confusion counts for its flagged outcome on labelled answers."""

    true_positives: int
    false_negatives: int
    false_positives: int
    true_negatives: int

    @property
    def sensitivity(self) -> float:
        return self.true_positives / (self.true_positives + self.false_negatives)

    @property
    def specificity(self) -> float:
        return self.true_negatives / (self.true_negatives + self.false_positives)

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """(TP, FN, FP, TN), as :func:`stats.corrected_rate` takes them."""
        return (
            self.true_positives,
            self.false_negatives,
            self.false_positives,
            self.true_negatives,
        )


MEASURED: dict[str, Measured] = {
    # benchmarks/refusal_accuracy.py, test split (214 answers; 83 flagged), detector version 5
    # and the labels of session 2 (REFUSAL_LABELS.md): TP 73, FN 10, FP 5, TN 126; 2026-11-28.
    # (On XSTest v2's held-out half, a different domain, sensitivity is 0.916:
    # benchmarks/refusal_xstest.py.)
    "refusal": Measured(73, 10, 5, 126),
    # benchmarks/packages_accuracy.py, 450 GPT-5-mini answers (197 with a non-existent
    # package): 197 caught, 0 missed, 3 false alarms of 253; 2026-11-27. Rates leave out the
    # answers the detector abstains on (no package named), so its specificity is measured on
    # the 207 negatives that name one (46 name none): TN 204, not 250 (2026-11-28).
    "packages": Measured(197, 0, 3, 204),
}
