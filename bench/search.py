"""Knowledge-base search benchmark: python -m bench.search [--sizes 1000,10000,100000]

For each KB size (generated, realistic chunks, bench/kb_corpus.py) on a fresh SQLite
database, through the real code (core.knowledge.versions.build_version, core.knowledge.index):

- full_build_s: build a version from scratch (embed every chunk, fill the embedding cache,
  build the FAISS index, write the file, add the rows);
- rebuild_1pct_s: change 1 % of the chunks and build again (only those are embedded);
- query_ms_p50/p99: one customer question end to end (MiniLM embedding + search + hits);
- faiss_ms_p50/p99: the FAISS search alone (pre-embedded queries, k=10);
- recall_at_10: HNSW (the approximate index used above SUPPORTLOOP_KB_EXACT_SEARCH_MAX) against
  exact search, on the same vectors and queries, at every size;
- rss_mb: peak resident memory of the process after the size ran; index_mb: the file size.

Chunk vectors are real MiniLM vectors at every size. Each chunk text is embedded once and kept in
a disk cache outside the repository (bench/vector_cache.py, keyed by model and text hash), so a
later run's full build reads them from disk instead of spending 20-35 minutes embedding 100k
chunks; ``full_build_s`` then is the build with cached vectors and ``full_build_embed_est_s`` adds
what embedding them would take at the rate measured in the run. The 1 % rebuild's changed chunks
get a text that is new in every run (a run id), so the rebuild always embeds them for real
(``embedded_in_rebuild`` counts them). ``_meta`` compares the product's embedding path
(``embed_chunks``: batches, cache rows) with a bare ``SentenceTransformer.encode`` of the same
new texts in the same run.

Prints a table and writes bench/results/search.json keyed by chunk count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from bench.kb_corpus import chunks as make_chunks  # noqa: E402
from bench.kb_corpus import questions as make_questions  # noqa: E402
from bench.vector_cache import CachedEmbedder, VectorCache  # noqa: E402
from core.knowledge.index import build_faiss, content_hash, embed_text, read_index_file  # noqa: E402
from core.knowledge.versions import build_version, cached_vectors, embed_chunks  # noqa: E402
from core.platform.actors import SYSTEM  # noqa: E402
from core.platform.clock import SystemClock  # noqa: E402
from core.platform.config import Settings  # noqa: E402
from core.platform.db import make_engine, session_factory, session_scope, upgrade  # noqa: E402
from core.platform.models import Chunk  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _insert_chunks(session, records: list[dict]) -> None:
    now = SystemClock().now()
    rows = [
        {
            "external_id": r["external_id"],
            "title": r["title"],
            "text": r["text"],
            "category": r["category"],
            "chunk_metadata": {},
            "content_hash": content_hash(r["title"], r["text"]),
            "status": "active",
            "source_type": "imported",
            "created_at": now,
            "updated_at": now,
            "times_retrieved": 0,
            "times_used_in_response": 0,
            "times_led_to_booking": 0,
            "rating_count": 0,
            "rating_sum": 0.0,
            "performance_score": 0.5,
        }
        for r in records
    ]
    for i in range(0, len(rows), 5000):
        session.execute(insert(Chunk), rows[i : i + 5000])


def _recall(vectors: np.ndarray, queries: np.ndarray, settings: Settings) -> float:
    exact, _ = build_faiss(vectors, exact_max=len(vectors) + 1)
    approx, kind = build_faiss(
        vectors,
        exact_max=0,
        hnsw_m=settings.kb_hnsw_m,
        ef_construction=settings.kb_hnsw_ef_construction,
        ef_search=settings.kb_hnsw_ef_search,
    )
    assert kind == "hnsw"
    _, truth = exact.search(queries, 10)
    _, got = approx.search(queries, 10)
    return round(float(np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth, got, strict=True)])), 4)


def run_size(n: int, embedder, query_embedder, n_queries: int, workdir: Path, run_id: str) -> dict:
    url = f"sqlite:///{workdir / f'bench_{n}.db'}"
    upgrade(url)
    settings = Settings(database_url=url, data_dir=workdir, index_dir=workdir / f"idx_{n}", _env_file=None)
    factory = session_factory(make_engine(url))
    records = make_chunks(n)
    with session_scope(factory) as s:
        _insert_chunks(s, records)

    t = time.perf_counter()
    with session_scope(factory) as s:
        v1 = build_version(s, embedder, settings, actor=SYSTEM, reason="full build")
        v1_file, v1_sum, kind = v1.index_file, v1.checksum, v1.index_kind
    full_build = time.perf_counter() - t

    rng = np.random.default_rng(n)
    changed = rng.choice(n, size=max(1, n // 100), replace=False) + 1  # chunk ids start at 1
    with session_scope(factory) as s:
        for cid in changed.tolist():
            c = s.get(Chunk, cid)
            c.text = c.text + f" Prices were updated this season (update {run_id})."
            c.content_hash = content_hash(c.title, c.text)
    t = time.perf_counter()
    with session_scope(factory) as s:
        v2 = build_version(s, embedder, settings, actor=SYSTEM, reason="1% changed")
        v2_file, v2_sum, embedded = v2.index_file, v2.checksum, v2.embedded_count
    rebuild = time.perf_counter() - t
    assert embedded == len(changed), (embedded, len(changed))

    t = time.perf_counter()
    idx = read_index_file(settings.index_dir / v2_file, v2_sum, ef_search=settings.kb_hnsw_ef_search)
    load_s = time.perf_counter() - t
    questions = make_questions(n_queries)
    for q in questions[:5]:  # warm-up
        idx.hits(*[a[0] for a in idx.search_vectors(query_embedder.encode([q]), 5)])
    e2e = []
    for q in questions:  # what the responder does: embed the question, search, build the hits
        t = time.perf_counter()
        scores, pos = idx.search_vectors(query_embedder.encode([q]), settings.kb_search_k)
        idx.hits(scores[0], pos[0])
        e2e.append((time.perf_counter() - t) * 1000)
    qvecs = embedder.encode(questions)
    faiss_ms = []
    for i in range(len(qvecs)):
        t = time.perf_counter()
        idx.index.search(qvecs[i : i + 1], 10)
        faiss_ms.append((time.perf_counter() - t) * 1000)
    # vectors of the version, for the recall comparison on identical data
    with session_scope(factory) as s:
        hashes = list(s.scalars(select(Chunk.content_hash).order_by(Chunk.id)))
        vecs = cached_vectors(s, hashes, embedder.model_id)
        matrix = np.stack([vecs[h] for h in hashes])
    recall = _recall(matrix, qvecs, settings)
    with session_scope(factory) as s:  # keep the db small on disk for the next size
        s.execute(update(Chunk).values(text=""))
    out = {
        "index_kind": kind,
        "query_ms_p50": _pct(e2e, 50),
        "query_ms_p99": _pct(e2e, 99),
        "faiss_ms_p50": _pct(faiss_ms, 50),
        "faiss_ms_p99": _pct(faiss_ms, 99),
        "recall_at_10": recall,
        "full_build_s": round(full_build, 2),
        "rebuild_1pct_s": round(rebuild, 2),
        "embedded_in_rebuild": int(embedded),
        "index_load_s": round(load_s, 3),
        "index_mb": round((settings.index_dir / v2_file).stat().st_size / 2**20, 1),
        "rss_mb": _rss_mb(),
        "queries": len(questions),
        "mean_query_ms": round(statistics.mean(e2e), 3),
    }
    del v1_file, v1_sum
    return out


def embedding_rates(minilm, n: int, run_id: str, workdir: Path) -> dict:
    """The product's chunk embedding (embed_chunks into a fresh database's cache) beside a bare
    SentenceTransformer.encode of the same texts, both new in this run."""
    texts = [
        embed_text(c["title"], c["text"] + f" (rate check {run_id})") for c in make_chunks(n, seed=99)
    ]
    from sentence_transformers import SentenceTransformer  # reason: torch; seconds to import

    bare_model = SentenceTransformer(str(minilm.path), device="cpu")
    t = time.perf_counter()
    bare_model.encode(texts, batch_size=minilm.batch_size, normalize_embeddings=True, show_progress_bar=False)
    bare = n / (time.perf_counter() - t)
    url = f"sqlite:///{workdir / 'rates.db'}"
    upgrade(url)
    factory = session_factory(make_engine(url))
    t = time.perf_counter()
    with session_scope(factory) as s:
        _, embedded = embed_chunks(s, minilm, {content_hash("", x): x for x in texts}, clock=SystemClock())
    product = embedded / (time.perf_counter() - t)
    return {
        "rate_texts": n,
        "product_chunks_per_s": round(product, 1),
        "bare_encode_chunks_per_s": round(bare, 1),
        "product_vs_bare": round(product / bare, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--rate-texts", type=int, default=512, help="texts for the embedding-rate comparison")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch intra-op threads (0: torch default)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    from core.platform.embeddings import MiniLMEmbedder

    minilm = MiniLMEmbedder(batch_size=128)
    cache = VectorCache(minilm.model_id, minilm.dim)
    run_id = uuid.uuid4().hex[:12]
    settings = Settings(_env_file=None)
    results: dict = {
        "_meta": {
            "chunk_embedder": minilm.model_id,
            "query_embedder": minilm.model_id,
            "vector_cache": f"<bench cache>/{cache.folder.name}",  # no machine path in the results
            "vectors_in_cache_at_start": len(cache),
            "run_id": run_id,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "exact_search_max": settings.kb_exact_search_max,
            "hnsw_m": settings.kb_hnsw_m,
            "hnsw_ef_search": settings.kb_hnsw_ef_search,
            "load_avg_at_start": os.getloadavg()[0],
            "torch_threads": args.torch_threads or "default",
        }
    }
    with tempfile.TemporaryDirectory(prefix="bench_search_") as tmp:
        rates = embedding_rates(minilm, args.rate_texts, run_id, Path(tmp))
        results["_meta"].update(rates)
        rate = rates["product_chunks_per_s"]
        print(
            f"embedding: product {rate} chunks/s, bare SentenceTransformer.encode "
            f"{rates['bare_encode_chunks_per_s']} chunks/s",
            flush=True,
        )
        for n in [int(x) for x in args.sizes.split(",")]:
            t = time.perf_counter()
            embedder = CachedEmbedder(minilm, cache)
            r = run_size(n, embedder, minilm, args.queries, Path(tmp), run_id)
            r["wall_s"] = round(time.perf_counter() - t, 1)
            r["load_avg"] = round(os.getloadavg()[0], 2)
            r["torch_threads"] = args.torch_threads or "default"
            r["chunk_vectors_from_disk_cache"] = embedder.served
            r["chunk_vectors_embedded_in_run"] = embedder.encoded
            r["full_build_embed_est_s"] = round(r["full_build_s"] + n / rate, 1)
            results[str(n)] = r
            print(
                f"{n:>7} chunks  {r['index_kind']:<5}  query p50 {r['query_ms_p50']:7.2f} ms  "
                f"p99 {r['query_ms_p99']:7.2f} ms  faiss p50 {r['faiss_ms_p50']:6.3f} "
                f"p99 {r['faiss_ms_p99']:6.3f} ms  "
                f"recall@10 {r['recall_at_10']:.3f}  full build {r['full_build_s']:8.1f} s  "
                f"rebuild 1% {r['rebuild_1pct_s']:6.1f} s  rss {r['rss_mb']:7.1f} MB",
                flush=True,
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
