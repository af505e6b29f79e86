"""A disk cache of embedding vectors for the benchmarks, outside the repository.

Embedding the 100k benchmark chunks with MiniLM takes 20-35 minutes on a 2-core machine, so
bench/search.py embeds each text once and reuses the vectors in later runs. Vectors are keyed by
the embedding model and the SHA-256 of the embedded text, and stored as append-only shards
(``<dir>/<model>/shard-*.npz``: the hashes and a float32 matrix), so an interrupted fill keeps
what it finished. The folder is ``$SUPPORTLOOP_BENCH_CACHE`` or ``~/.cache/supportloop/bench-vectors``.

``CachedEmbedder`` wraps an embedder: texts in the cache are served from disk, the rest are
encoded by the wrapped model (and added to the cache unless ``write=False``). It counts both, so a
benchmark can prove which texts were really embedded in the run.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

import numpy as np

SHARD_ROWS = 2048


def cache_dir() -> Path:
    """Where the vectors live (never inside the repository)."""
    env = os.environ.get("SUPPORTLOOP_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "supportloop" / "bench-vectors"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache:
    """The vectors of one embedding model on disk."""

    def __init__(self, model_id: str, dim: int, root: Path | None = None):
        self.model_id = model_id
        self.dim = dim
        self.folder = (root or cache_dir()) / re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._vectors: dict[str, np.ndarray] = {}
        for shard in sorted(self.folder.glob("shard-*.npz")):
            with np.load(shard) as data:
                if data["vectors"].shape[1] != dim:
                    continue
                for key, vec in zip(data["keys"].tolist(), data["vectors"], strict=True):
                    self._vectors[key] = vec

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: str) -> np.ndarray | None:
        return self._vectors.get(key)

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        """Append one shard (written to a temporary name, then renamed: never half a shard)."""
        if not keys:
            return
        name = f"shard-{uuid.uuid4().hex}.npz"
        tmp = self.folder / f".{name}.tmp.npz"
        np.savez(tmp, keys=np.array(keys), vectors=np.asarray(vectors, dtype=np.float32))
        tmp.rename(self.folder / name)
        for key, vec in zip(keys, vectors, strict=True):
            self._vectors[key] = np.asarray(vec, dtype=np.float32)


class CachedEmbedder:
    """An embedder that serves cached texts from disk and encodes the rest with ``inner``."""

    def __init__(self, inner, cache: VectorCache, *, write: bool = True):
        self.inner = inner
        self.cache = cache
        self.write = write
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.served = 0
        self.encoded = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing = []
        for i, key in enumerate(keys):
            vec = self.cache.get(key)
            if vec is None:
                missing.append(i)
            else:
                out[i] = vec
        self.served += len(texts) - len(missing)
        for start in range(0, len(missing), SHARD_ROWS):
            part = missing[start : start + SHARD_ROWS]
            vecs = np.asarray(self.inner.encode([texts[i] for i in part]), dtype=np.float32)
            out[part] = vecs
            self.encoded += len(part)
            if self.write:
                self.cache.add([keys[i] for i in part], vecs)
        return out
