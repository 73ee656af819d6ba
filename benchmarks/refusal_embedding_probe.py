"""Would a language model's reading of the answer improve the learned refusal model?

An experiment, not part of the detector. Each labelled answer is embedded by a GGUF model
(mean-pooled hidden states of ``Question: <prompt>\\nAnswer: <answer>``, the first 250 and
350 characters, through llama.cpp's embedding mode), and a logistic regression over the
detector's own features *plus* the embedding is compared with the same regression without it:

1. grouped 5-fold cross-validation on the dev halves (folds by prompt), per set;
2. then fitted on all dev halves, the final verdict (the rules reconciled with the new
   P(flagged), as the detector does) scored on the test halves: aggregates only, so the
   test halves stay unread.

Why keep it: the obvious next step beyond marker phrases and opening words is a model that
reads the answer. With the embedded Qwen2.5-Coder-0.5B it gained +0.008 F1 (+0.010 with --ask) in
cross-validation and nothing on the test halves (docs/accuracy.md, "A reading by the embedded model"),
so the detector does not pay the ~0.7 s per answer it costs on 2 cores. Anyone with a larger
model (``--model PATH`` to any GGUF) can re-run the same comparison. Needs the ``local``
extra (xllamacpp), numpy and scipy; the labelled sets are those of
``train_refusal_model.py``::

    PYTHONPATH=src python benchmarks/refusal_embedding_probe.py \\
        --xstest DIR --rbr rbr.jsonl --wildguard wildguard.jsonl --cache emb.jsonl

Embeddings are appended to ``--cache`` as they are made, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import machine_line  # noqa: E402
from refusal_accuracy import binary  # noqa: E402
from refusal_accuracy import load as load_jsonl  # noqa: E402
from refusal_xstest import load as load_xstest  # noqa: E402
from train_refusal_model import model_rows, training_records  # noqa: E402

PROMPT_CHARS, ANSWER_CHARS = 250, 350
C_LEXICAL = 1.0  # as the shipped model (train_refusal_model.C)


# With --ask, the text ends in a question about the answer and the last token's state is
# used: the model's reading is then aimed at refusal rather than spread over the topic.
ASK = "\nDid the answer refuse, evade or change the subject instead of answering? Reply yes or no.\nReply:"


def probe_text(prompt: str, response: str, ask: bool = False) -> str:
    text = f"Question: {prompt[:PROMPT_CHARS]}\nAnswer: {response[:ANSWER_CHARS]}"
    return text + ASK if ask else text


def test_records(xstest: Path, rbr: Path, wildguard: Path | None) -> list[dict[str, Any]]:
    out = [{**r, "set": "xstest"} for r in load_xstest(xstest) if r["split"] == "test"]
    out += [{**r, "set": "rbr"} for r in load_jsonl(rbr) if r["split"] == "test"]
    own = load_jsonl(HERE / "data" / "refusal_labelled.jsonl")
    out += [{**r, "set": "own"} for r in own if r["split"] == "test"]
    if wildguard is not None:
        out += [{**r, "set": "wildguard"} for r in load_jsonl(wildguard) if r["split"] == "test"]
    return out


def embed_all(
    records: Sequence[dict[str, Any]], model: Path, cache: Path, ask: bool = False
) -> dict[str, Any]:
    """sha256 of the probe text -> embedding; missing ones are computed and appended.

    Mean-pooled over the text, or with ``ask`` the last token's state after :data:`ASK`."""
    import numpy as np

    def text(r: dict[str, Any]) -> str:
        return probe_text(r["prompt"], r["response"] or "", ask)

    def key(r: dict[str, Any]) -> str:
        return hashlib.sha256(text(r).encode()).hexdigest()

    known: dict[str, Any] = {}
    if cache.exists():
        with cache.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                known[row["key"]] = np.asarray(row["embedding"])
    todo = [r for r in records if key(r) not in known]
    if todo:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(model)
        params.embedding = True
        pooling = xllamacpp.llama_pooling_type
        params.pooling_type = (
            pooling.LLAMA_POOLING_TYPE_LAST if ask else pooling.LLAMA_POOLING_TYPE_MEAN
        )
        params.n_ctx = params.n_batch = params.n_ubatch = 1024  # one pass per answer
        params.cpuparams.n_threads = 2
        params.n_parallel = 1
        params.verbosity = -1
        server = xllamacpp.Server(params)
        started = time.monotonic()
        with cache.open("a", encoding="utf-8") as out:
            for done, r in enumerate(todo, 1):
                result = server.handle_embeddings({"input": [text(r)]})
                if "data" not in result:
                    raise SystemExit(f"embedding failed for {r['id']}: {str(result)[:200]}")
                vector = [round(v, 5) for v in result["data"][0]["embedding"]]
                out.write(json.dumps({"key": key(r), "embedding": vector}) + "\n")
                known[key(r)] = np.asarray(vector)
                if done % 200 == 0:
                    rate = done / (time.monotonic() - started)
                    print(f"  embedded {done}/{len(todo)} ({rate:.2f}/s)", file=sys.stderr)
    return {r["id"] + "\0" + r["set"]: known[key(r)] for r in records}


class Design:
    """Builds the regression's inputs: the detector's sparse features, then the embedding."""

    def __init__(self, lexical: Sequence[dict[str, float]], embeddings: Any) -> None:
        self.columns = {n: j for j, n in enumerate(sorted({k for row in lexical for k in row}))}
        self.mean, self.scale = embeddings.mean(0), embeddings.std(0) + 1e-6

    def matrix(self, lexical: Sequence[dict[str, float]], embeddings: Any | None) -> Any:
        from scipy import sparse

        data, rows, cols = [], [], []
        for i, row in enumerate(lexical):
            for name, value in row.items():
                j = self.columns.get(name)
                if j is not None:
                    data.append(value)
                    rows.append(i)
                    cols.append(j)
        x = sparse.csr_matrix((data, (rows, cols)), shape=(len(lexical), len(self.columns)))
        if embeddings is None:
            return x
        return sparse.hstack([x, sparse.csr_matrix((embeddings - self.mean) / self.scale)]).tocsr()


def fit(x: Any, y: Any, penalty: Any) -> Any:
    """L2 logistic regression with a penalty per column (lexical and embedding weights differ)."""
    import numpy as np
    from scipy import optimize

    def loss(wb: Any) -> tuple[float, Any]:
        w, b = wb[:-1], wb[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * (w * penalty) @ w)
        return value, np.append(x.T @ (p - y) + penalty * w, np.sum(p - y))

    start = np.zeros(x.shape[1] + 1)
    return optimize.minimize(loss, start, jac=True, method="L-BFGS-B").x


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xstest", type=Path, required=True)
    ap.add_argument("--rbr", type=Path, required=True)
    ap.add_argument("--wildguard", type=Path)
    ap.add_argument("--cache", type=Path, required=True, help="embeddings JSONL (resumable)")
    ap.add_argument("--model", type=Path, help="GGUF to embed with (default: embedded Qwen 0.5B)")
    ap.add_argument("--ask", action="store_true", help="last-token state after a question")
    ap.add_argument("--c-emb", type=float, default=0.01, help="inverse L2 strength, embedding")
    args = ap.parse_args()

    import numpy as np

    from allegiance.detectors import refusal, refusal_model
    from allegiance.targets.embedded import ensure_model

    model = args.model or ensure_model("qwen2.5-coder-0.5b")
    dev, _ = training_records(args.xstest, args.rbr, args.wildguard)
    test = test_records(args.xstest, args.rbr, args.wildguard)
    vectors = embed_all([*dev, *test], model, args.cache, args.ask)
    print(machine_line())
    print(f"embeddings: {model.name}, {len(vectors)} answers")

    dev = [r for r in dev if r["label"] != "partial"]  # as the shipped model is trained
    lexical = [row for row, _ in model_rows(dev)]
    emb = np.stack([vectors[r["id"] + "\0" + r["set"]] for r in dev])
    design = Design(lexical, emb)
    y = np.asarray([r["label"] in refusal.FLAGGED for r in dev], dtype=float)
    fold = np.asarray([hashlib.sha256(r["prompt"].encode()).digest()[0] % 5 for r in dev])
    sets = sorted({r["set"] for r in dev})

    def penalty(with_embedding: bool) -> Any:
        parts = [np.full(len(design.columns), 1 / C_LEXICAL)]
        if with_embedding:
            parts.append(np.full(emb.shape[1], 1 / args.c_emb))
        return np.concatenate(parts)

    print("\n| grouped 5-fold CV on dev, model decision | " + " | ".join(sets) + " | all |")
    print("|---" * (len(sets) + 2) + "|")
    for with_embedding in (False, True):
        predicted = np.zeros(len(dev), dtype=bool)
        for k in range(5):
            train, held = np.where(fold != k)[0], np.where(fold == k)[0]
            e_train, e_held = (emb[train], emb[held]) if with_embedding else (None, None)
            x = design.matrix([lexical[i] for i in train], e_train)
            wb = fit(x, y[train], penalty(with_embedding))
            z = design.matrix([lexical[i] for i in held], e_held) @ wb[:-1] + wb[-1]
            predicted[held] = z >= 0
        scores = [
            binary([bool(y[i]) for i in idx], [bool(predicted[i]) for i in idx])["f1"]
            for idx in ([i for i, r in enumerate(dev) if r["set"] == s] for s in sets)
        ]
        overall = binary([bool(v) for v in y], [bool(v) for v in predicted])["f1"]
        name = "features + embedding" if with_embedding else "features only"
        print(f"| {name} | " + " | ".join(f"{f:.3f}" for f in scores) + f" | {overall:.3f} |")

    wb = fit(design.matrix(lexical, emb), y, penalty(True))
    shipped = refusal_model.shipped_model()
    print("\n| test half, final verdict F1 | n | shipped detector | with the embedding |")
    print("|---|---|---|---|")
    for name in sorted({r["set"] for r in test}):
        rows = [r for r in test if r["set"] == name]
        analyses = [refusal.analyse(r["prompt"], r["response"] or "") for r in rows]
        rule_labels = [refusal.classify(a.features)[0] for a in analyses]
        inputs = [refusal.model_input(a, lab) for a, lab in zip(analyses, rule_labels, strict=True)]
        e = np.stack([vectors[r["id"] + "\0" + r["set"]] for r in rows])
        probabilities = 1 / (1 + np.exp(-(design.matrix(inputs, e) @ wb[:-1] + wb[-1])))
        truth = [r["label"] in refusal.FLAGGED for r in rows]
        columns = []
        for source in ("shipped", "probe"):
            flagged = []
            for a, lab, x, p in zip(analyses, rule_labels, inputs, probabilities, strict=True):
                p = shipped.probability(x) if source == "shipped" else float(p)
                flagged.append(
                    refusal.reconcile(lab, a.features, a.hits, p, shipped.threshold)[0]
                    in refusal.FLAGGED
                )
            columns.append(binary(truth, flagged)["f1"])
        print(f"| {name} | {len(rows)} | {columns[0]:.3f} | {columns[1]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
