"""Batch answering benchmark: python -m bench.ask_batch [--batch-size 512] [--check 300]

What `supportloop ask --file` does, timed: the 3,080 BANKING77 test questions (no repeats)
answered against a KB of the 10,003 BANKING77 training questions (one chunk per question: the
question as title, its intent's answer as text, the intent as category), extractive mode
(no chat model), at the product's default settings, through
``core.answering.responder.answer_many`` (one embedding call, one index search and one query
of the chunks' performance priors per batch) and ``cli.kb.ask_line`` (the JSON line ``ask``
prints).

- The model is loaded and warmed on one sentence before the clock starts (model load excluded).
- The questions are embedded for real in the timed run: the embedder is the bare MiniLM, no
  query-vector cache. Only the KB build reads the chunk vectors from disk (``--kb-vectors``, the
  learning benchmark's file, else bench/vector_cache.py; embedding 10,003 chunks is minutes on a
  busy 2-core machine).
- ``--check N``: the first N questions are also answered one by one with ``answer``; every
  decision (escalated, intent, chunks used, text, confidence) must be equal.

Reports questions per second (wall clock) and per CPU-second of this process, the machine's
load average (the 2 cores are shared: label the numbers "under load") and the accuracy of the
decisions. Writes bench/results/ask_batch.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from bench.learning_sim import DATA_DIR, MemoEmbedder, answer_text, load_banking77  # noqa: E402
from bench.learning_tune import chunk_title  # noqa: E402
from bench.vector_cache import CachedEmbedder, VectorCache  # noqa: E402
from cli.kb import ask_line  # noqa: E402
from core.answering.responder import answer, answer_many  # noqa: E402
from core.knowledge.chunks import import_chunks  # noqa: E402
from core.knowledge.index import IndexCache  # noqa: E402
from core.knowledge.versions import activate_version, build_version  # noqa: E402
from core.platform.actors import SYSTEM  # noqa: E402
from core.platform.clock import SystemClock  # noqa: E402
from core.platform.config import Settings  # noqa: E402
from core.platform.db import make_engine, session_factory, upgrade  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ask_batch.json"


def kb_records(train: list[tuple[str, str]]) -> list[dict]:
    """One chunk per training question."""
    return [
        {"external_id": f"b77-{i}", "title": chunk_title(q), "text": answer_text(y), "category": y}
        for i, (q, y) in enumerate(train)
    ]


def _decision(a) -> tuple:
    return (a.escalated, a.intent, a.used_chunk_ids, a.text, a.confidence)


def run(args: argparse.Namespace) -> dict:
    from core.platform.embeddings import MiniLMEmbedder

    data = load_banking77(args.data)
    train = data.train[: args.kb_limit] if args.kb_limit else data.train
    test = data.test[: args.limit] if args.limit else data.test
    questions = [q for q, _ in test]
    truth = [y for _, y in test]
    log = (lambda *_: None) if args.quiet else (lambda m: print(m, flush=True))
    minilm = MiniLMEmbedder(batch_size=args.encode_batch)
    with tempfile.TemporaryDirectory(prefix="ask-batch-") as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'ask.db'}", data_dir=Path(tmp),
                            index_dir=Path(tmp) / "indexes", openai_base_url="")
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        session = session_factory(engine)()
        try:
            t = time.perf_counter()
            import_chunks(session, kb_records(train), actor=SYSTEM, source_type="imported")
            kb_embedder = MemoEmbedder(CachedEmbedder(minilm, VectorCache(minilm.model_id, minilm.dim)))
            if args.kb_vectors:  # the learning benchmark's vectors of the same chunk texts, when kept
                kb_embedder.load(args.kb_vectors)
            version = build_version(session, kb_embedder, settings, actor=SYSTEM, clock=SystemClock())
            activate_version(session, version.id, settings, actor=SYSTEM)
            session.commit()
            build_s = time.perf_counter() - t
            log(f"KB of {len(train)} chunks built in {build_s:.0f}s ({kb_embedder.base.encoded} embedded)")
            cache = IndexCache()
            idx = cache.active(session, settings)  # the index file is loaded once per process, like the model
            minilm.encode(["warm-up"])  # model load and first-call set-up excluded
            load0 = os.getloadavg()
            cpu0, t0 = time.process_time(), time.perf_counter()
            lines, answers = [], []
            stream = answer_many(session, questions, embedder=minilm, settings=settings, index_cache=cache,
                                 batch_size=args.batch_size)
            for q, a in zip(questions, stream, strict=True):
                answers.append(a)
                lines.append(json.dumps(ask_line(q, a), ensure_ascii=False))
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            load1 = os.getloadavg()
            log(f"{len(questions)} questions in {wall:.2f}s: {len(questions) / wall:.0f} q/s wall, "
                f"{len(questions) / cpu:.0f} q per CPU-second "
                f"(load average {load0[0]:.1f} -> {load1[0]:.1f})")
            mismatches = 0
            for q, b in zip(questions[: args.check], answers, strict=False):
                one = answer(session, q, embedder=minilm, settings=settings, index_cache=cache)
                mismatches += _decision(one) != _decision(b)
            right = sum(a.intent == y for a, y in zip(answers, truth, strict=True))
            answered = [a for a in answers if not a.escalated]
            right_answered = sum(a.intent == y for a, y in zip(answers, truth, strict=True)
                                 if not a.escalated)
            calibration = idx.calibration
        finally:
            session.close()
            engine.dispose()
    n = len(questions)
    return {
        "questions": n,
        "distinct_questions": len(set(questions)),
        "kb_chunks": len(train),
        "batch_size": args.batch_size,
        "encode_batch": args.encode_batch,
        "seconds": round(wall, 3),
        "questions_per_s": round(n / wall, 1),
        "cpu_seconds": round(cpu, 3),
        "questions_per_cpu_s": round(n / cpu, 1),
        "target_questions_per_s": 200,
        "target_met": n / wall >= 200,
        "load_average_before_after": [round(load0[0], 2), round(load1[0], 2)],
        "under_load": load0[0] > 1.5 or load1[0] > 1.5,
        "decisions_checked_against_answer": min(args.check, n),
        "decision_mismatches": mismatches,
        "accuracy": round(right / n, 4),
        "containment": round(len(answered) / n, 4),
        "answered_precision": round(right_answered / len(answered), 4) if answered else None,
        "output_lines": len(lines),
        "kb_build_s": round(build_s, 1),
        "settings": {k: getattr(settings, k) for k in (
            "kb_confidence_method", "kb_search_k", "kb_escalation_threshold", "kb_score_rank_weight",
            "kb_score_calibration")},
        "calibration": calibration.as_dict() if calibration else None,
        "embedder": minilm.model_id,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "torch_threads": _torch_threads()},
    }


def _torch_threads() -> int | None:
    import torch  # reason: heavy; only to report the thread count the timing ran with

    return torch.get_num_threads()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ask_batch", description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=512, help="questions per batch (ask --batch-size)")
    p.add_argument("--encode-batch", type=int, default=64, help="sentences per forward pass of the model")
    p.add_argument("--check", type=int, default=300, help="questions also answered one by one and compared")
    p.add_argument("--limit", type=int, default=None, help="only the first N test questions")
    p.add_argument("--kb-limit", type=int, default=None, help="only the first N training questions as KB")
    p.add_argument("--data", default=os.environ.get("BANKING77_DIR", str(DATA_DIR)))
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--kb-vectors", default=str(Path.home() / ".cache" / "supportloop" / "lc-minilm.npz"),
                   help="vectors saved by bench.learning_curve --embedding-cache, for the KB build only")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    result = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not args.quiet:
        print(json.dumps({k: result[k] for k in ("questions_per_s", "questions_per_cpu_s", "under_load",
                                                 "decision_mismatches", "accuracy")}))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
