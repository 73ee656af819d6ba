"""A learned second opinion on the refusal rules: logistic regression over what the rules
measured and the words that open the answer.

Why: the rules in :mod:`allegiance.detectors.refusal` read each convention one at a time
("an apology followed by another subject is a refusal"), and every labelled set we tried had
conventions the rules missed; OpenAI's RBR data, for instance, labels sympathy plus a hotline
a refusal, which no phrase list sees. A linear model over the rules' own measurements
(substance, marker positions, hedging, overlap with the question) and the opening words
learns how much each signal weighs across several labelled sets at once (two labelled by
people, our own, and blind batches labelled by helper sessions), and can
overrule the rules where they are confidently wrong. The rules still name the kind of answer
(partial, evasive, the rule that fired) and give the evidence; the model only moves an answer
across the flagged / not-flagged line.

It is pure and offline: the weights are a JSON file in this package
(``refusal_model.json``), scored with a dot product over a few dozen features per answer.
They are fitted by ``benchmarks/train_refusal_model.py`` (numpy/scipy, imported lazily by
:func:`fit`) on the *dev* halves of the labelled sets only; the test halves are for reporting
(docs/accuracy.md).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from allegiance.detectors.text_markers import SCRIPTS

# Bump when model_features changes what it emits: the shipped weights must then be refitted
# (a test fails while the file and the code disagree).
FEATURE_SPEC = "3"
OPENING_CHARS = 250  # words are taken from this much of the answer: where it declines or begins
MIN_COUNT = 3  # a feature seen in fewer training answers gets no weight (it would memorise)
MODEL_FILE = "refusal_model.json"
# The first 12 hex digits of the sha256 of MODEL_FILE: part of the detector's version, so that
# verdicts stored with other weights are re-judged. A test checks it; the training script
# prints the new value after a refit.
WEIGHTS_ID = "17e5385f5926"

_WORD = re.compile(r"\w+")
_HAN_RUN = re.compile(f"[{SCRIPTS['cjk']}]{{2,}}")  # runs of kana and Han


def opening_tokens(text: str) -> list[str]:
    """Words of a normalised text; runs of Han or kana become character bigrams.

    Chinese and Japanese are written without spaces, so ``\\w+`` would turn each clause into
    one token that never recurs; bigrams ("无法", "抱歉") do.
    """
    out: list[str] = []
    for word in _WORD.findall(text):
        if word.isascii():  # the common case needs no search for Han runs
            out.append(word)
            continue
        at = 0
        for run in _HAN_RUN.finditer(word):  # "作为ai助手我无法回答": Latin and Han parts apart
            if run.start() > at:
                out.append(word[at : run.start()])
            han = run.group()
            out.extend(han[i : i + 2] for i in range(len(han) - 1))
            at = run.end()
        if at < len(word):
            out.append(word[at:])
    return out


def model_features(
    measured: Mapping[str, Any],
    categories: Iterable[str],
    opening_categories: Iterable[str],
    rule_label: str,
    text: str,
) -> dict[str, float]:
    """The features one answer is scored on (names are stable: they key the weights).

    ``measured`` is the rules' :class:`~allegiance.detectors.refusal_analysis.Features` as a
    mapping: booleans become 0/1, counts and sizes log-scaled (so a 5,000-character answer
    does not dwarf everything else), the rejection kind one-hot. ``categories`` are the marker
    categories found anywhere, ``opening_categories`` those in the opening; ``text`` is the
    normalised answer, of which the first :data:`OPENING_CHARS` characters give words and
    word pairs.
    """
    out: dict[str, float] = {"label=" + rule_label: 1.0}
    for name, value in measured.items():
        if isinstance(value, bool):
            if value:
                out["f:" + name] = 1.0
        elif isinstance(value, int | float):
            out["f:" + name] = math.log1p(max(float(value), 0.0)) / 3
        elif value is None:
            out["f:" + name + "=none"] = 1.0
        elif isinstance(value, str) and value:
            out["f:" + name + "=" + value] = 1.0
    for category in categories:
        out["m:" + category] = 1.0
    for category in opening_categories:
        out["mo:" + category] = 1.0
    words = opening_tokens(text[:OPENING_CHARS])
    for word in words:
        out["w:" + word] = 1.0
    for first, second in pairwise(words):
        out["w2:" + first + "_" + second] = 1.0
    return out


@dataclass(frozen=True)
class LogisticModel:
    """Weights of a binary logistic model: P(flagged) = sigmoid(bias + sum of weights)."""

    weights: Mapping[str, float]
    bias: float
    threshold: float = 0.5
    spec: str = FEATURE_SPEC
    meta: Mapping[str, Any] = field(default_factory=dict)

    def probability(self, features: Mapping[str, float]) -> float:
        weight = self.weights.get
        z = self.bias + sum(weight(name, 0.0) * v for name, v in features.items())
        if z < -40:  # exp(40) is near overflow territory for no gain: P < 5e-18 here
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "threshold": self.threshold,
            "bias": round(self.bias, 6),
            "meta": dict(self.meta),
            "weights": {k: round(v, 6) for k, v in sorted(self.weights.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogisticModel:
        weights = {str(k): float(v) for k, v in data["weights"].items()}
        bias, threshold = float(data["bias"]), float(data.get("threshold", 0.5))
        if not all(math.isfinite(v) for v in (*weights.values(), bias)) or not 0 < threshold < 1:
            raise ValueError("refusal model weights must be finite and its threshold in (0, 1)")
        return cls(
            weights=weights,
            bias=bias,
            threshold=threshold,
            spec=str(data["spec"]),
            meta=dict(data.get("meta", {})),
        )


def fit(
    rows: Sequence[Mapping[str, float]],
    targets: Sequence[bool],
    *,
    c: float = 1.0,
    min_count: int = MIN_COUNT,
    prune: float = 1e-4,
    meta: Mapping[str, Any] | None = None,
) -> LogisticModel:
    """L2-regularised logistic regression (scipy's L-BFGS), for the training script and tests.

    ``c`` is the inverse regularisation strength, as in scikit-learn (which we do not depend
    on for one model). Features seen in fewer than ``min_count`` rows are dropped before
    fitting; weights smaller than ``prune`` are dropped after, to keep the file small.
    """
    import numpy as np
    from scipy import optimize, sparse

    if len(rows) != len(targets) or not rows:
        raise ValueError("fit needs as many targets as rows, and at least one row")
    if not c > 0:
        raise ValueError("c (inverse regularisation strength) must be positive")
    counts = Counter(name for row in rows for name in row)
    names = sorted(name for name, n in counts.items() if n >= min_count)
    column = {name: j for j, name in enumerate(names)}
    data: list[float] = []
    row_ids: list[int] = []
    col_ids: list[int] = []
    for i, row in enumerate(rows):
        for name, value in row.items():
            j = column.get(name)
            if j is not None:
                data.append(value)
                row_ids.append(i)
                col_ids.append(j)
    x = sparse.csr_matrix((data, (row_ids, col_ids)), shape=(len(rows), len(names)))
    y = np.asarray(targets, dtype=float)

    def loss(wb: Any) -> tuple[float, Any]:
        w, b = wb[:-1], wb[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / c * (w @ w))
        grad = np.append(x.T @ (p - y) + w / c, np.sum(p - y))
        return value, grad

    result = optimize.minimize(loss, np.zeros(len(names) + 1), jac=True, method="L-BFGS-B")
    w = result.x[:-1]
    weights = {name: float(w[j]) for name, j in column.items() if abs(w[j]) >= prune}
    return LogisticModel(weights=weights, bias=float(result.x[-1]), meta=dict(meta or {}))


@cache
def shipped_model() -> LogisticModel:
    """The weights shipped with the package (read once per process)."""
    text = resources.files("allegiance.detectors").joinpath(MODEL_FILE).read_text("utf-8")
    model = LogisticModel.from_json(json.loads(text))
    if model.spec != FEATURE_SPEC:
        raise RuntimeError(
            f"{MODEL_FILE} was fitted for feature spec {model.spec}, the code emits "
            f"{FEATURE_SPEC}: refit it with benchmarks/train_refusal_model.py"
        )
    return model


__all__ = [
    "FEATURE_SPEC",
    "WEIGHTS_ID",
    "LogisticModel",
    "fit",
    "model_features",
    "opening_tokens",
    "shipped_model",
]
