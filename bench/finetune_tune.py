"""Tuning the loop's local embedding fine-tune on the validation split of BANKING77 (never test.csv).

    python -m bench.finetune_tune                          # epochs 1,3,5 x learning rate 2e-5,5e-5
    python -m bench.finetune_tune --epochs 1,4 --lr 5e-5 --pairs 1800

Protocol (the one of ``bench.learning_curve``'s ``finetune`` variant, on validation questions):
``--pairs`` training questions (seeded sample of the benchmark's training rows, about what the
loop has gathered by week 10) are the fine-tune's (question, answer) pairs and, with one seed
question per intent, the KB's chunks (the question as title, the intent's answer as text, embedded
as the product embeds a chunk). Each setting fine-tunes MiniLM with the product's
``train_embedding_model`` and answers the validation questions by the benchmark's tuned decision
(vote of the k nearest chunks). Writes bench/results/finetune_tune.json: accuracy per setting,
beside the frozen model's on the same KB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from bench.learning_sim import answer_text, load_banking77  # noqa: E402
from bench.learning_tune import _decisions, chunk_title, split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "finetune_tune.json"


def accuracy(embedder, kb_text: list[str], kb_cats: list[str], val_q: list[str], val_y: list[str],
             base_settings, k: int, temperature: float) -> float:
    kb_vecs = embedder.encode(kb_text)
    q_vecs = embedder.encode(val_q)
    _, cats = _decisions(kb_vecs, kb_cats, q_vecs, "vote", k, temperature, 0.25, 0.65, base_settings)
    return round(float(np.mean([c == y for c, y in zip(cats, val_y, strict=True)])), 4)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=1800)
    p.add_argument("--epochs", default="1,3,5")
    p.add_argument("--lr", default="2e-5,5e-5")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--temperature", type=float, default=0.05)
    args = p.parse_args()

    from core.platform.config import Settings
    from core.platform.embeddings import MiniLMEmbedder
    from core.training.finetune.local_provider import base_model_path, train_embedding_model

    data = load_banking77()
    sp = split(data, seed=args.seed)
    rng = random.Random(args.seed)
    seeds = {}
    for i in sp.train:
        seeds.setdefault(data.train[i][1], i)
    rest = [i for i in sp.train if i not in set(seeds.values())]
    labelled = rng.sample(rest, args.pairs)
    kb_rows = list(seeds.values()) + labelled
    kb_text = [f"{chunk_title(data.train[i][0])}\n{answer_text(data.train[i][1])}" for i in kb_rows]
    kb_cats = [data.train[i][1] for i in kb_rows]
    pairs = [(data.train[i][0], answer_text(data.train[i][1])) for i in labelled]
    val_q = [data.train[i][0] for i in sp.val]
    val_y = [data.train[i][1] for i in sp.val]
    base_settings = Settings(_env_file=None)
    base = base_model_path(base_settings)

    frozen = accuracy(MiniLMEmbedder(base, batch_size=128), kb_text, kb_cats, val_q, val_y, base_settings,
                      args.k, args.temperature)
    print(f"frozen MiniLM: validation accuracy {frozen} ({len(val_q)} questions, KB {len(kb_rows)} chunks)")
    rows = []
    for lr in [float(x) for x in args.lr.split(",")]:
        for epochs in [int(x) for x in args.epochs.split(",")]:
            with tempfile.TemporaryDirectory(prefix="ft-tune-") as tmp:
                started = time.perf_counter()
                facts = train_embedding_model(pairs, base, Path(tmp) / "model", epochs=epochs,
                                              batch_size=args.batch_size, learning_rate=lr, seed=args.seed)
                acc = accuracy(MiniLMEmbedder(Path(tmp) / "model", batch_size=128), kb_text, kb_cats, val_q,
                               val_y, base_settings, args.k, args.temperature)
            row = {"epochs": epochs, "learning_rate": lr, "val_accuracy": acc, "steps": facts["steps"],
                   "train_seconds": facts["train_seconds"],
                   "total_seconds": round(time.perf_counter() - started, 1)}
            rows.append(row)
            print(row, flush=True)
    best = max(rows, key=lambda r: (r["val_accuracy"], -r["train_seconds"]))
    out = {"data": "BANKING77 validation split (tuning only; test.csv not read)", "pairs": len(pairs),
           "kb_chunks": len(kb_rows), "validation_questions": len(val_q), "batch_size": args.batch_size,
           "decision": {"method": "vote", "k": args.k, "temperature": args.temperature},
           "frozen_val_accuracy": frozen, "grid": rows, "best": best}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    print(f"best: {best}\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
