"""The index file of a KB version and the process cache of the active one.

File format (one file per version, in ``settings.index_dir``)::

    b"SLKB1\\n" | 8-byte little-endian length N | N bytes of JSON header | FAISS index bytes

The JSON header holds the model id, dimension, index kind and, per index row, the chunk's id,
external id, content hash, title, text and category: a version is a complete, immutable
snapshot that answers without reading the chunk table. The SHA-256 of the whole file is
stored on the version row and verified on every load.

Writes are atomic: temporary name in the same folder, fsync, rename, fsync of the folder.

``search(session, query, k, ...)`` returns the k chunks of the active version closest to a
query (the CLI's ``kb search``, the dashboard's search playground), each score moved by the
chunk's performance prior (:func:`apply_priors`, ``core.knowledge.scoring.retrieval_priors``), as the
responder ranks them.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.knowledge.calibration import Calibration
from core.knowledge.scoring import retrieval_priors
from core.platform.errors import NotFound, SupportloopError, ValidationError
from core.platform.models import KBVersion
from core.platform.services import Embedder
from core.platform.statuses import KBVersionStatus

MAGIC = b"SLKB1\n"
TMP_SUFFIX = ".tmp"
INDEX_SUFFIX = ".slkb"


class IndexFileError(SupportloopError):
    """A KB version's index file is missing, unreadable or fails its checksum."""

    http_status = 500


@dataclass
class Row:
    chunk_id: int
    external_id: str | None
    content_hash: str
    title: str
    text: str
    category: str


@dataclass
class SearchHit:
    """One retrieved chunk: its rank (1 = best) and cosine score."""

    rank: int
    chunk_id: int
    external_id: str | None
    title: str
    text: str
    category: str
    score: float

    @property
    def label(self) -> str:
        """The external id when the chunk has one, else ``#<id>``."""
        return self.external_id or f"#{self.chunk_id}"


class KBIndex:
    """A loaded KB version: the FAISS index, its rows and the score calibration measured on it
    when it was built (``core.knowledge.calibration``; None: the fixed settings apply)."""

    def __init__(self, version_id: int | None, model_id: str, kind: str, index, rows: list[Row],
                 calibration: Calibration | None = None):
        self.version_id = version_id
        self.model_id = model_id
        self.kind = kind
        self.index = index
        self.rows = rows
        self.dim = index.d
        self.calibration = calibration

    def __len__(self) -> int:
        return len(self.rows)

    def check_model(self, model_id: str) -> None:
        if model_id != self.model_id:
            raise ValidationError(
                f"KB version {self.version_id} was built with embedding model {self.model_id!r} "
                f"but the embedder is {model_id!r}. Build a new version with this embedder "
                "(`supportloop kb refresh`) or use the matching model."
            )

    def search_vectors(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS search: (scores, positions), -1 positions where fewer than k rows exist."""
        k = max(1, min(k, len(self.rows))) if self.rows else 1
        if not self.rows:
            n = len(vectors)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        return self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)

    def hits(self, scores: np.ndarray, positions: np.ndarray) -> list[SearchHit]:
        """Search hits of one query row."""
        out = []
        for s, p in zip(scores, positions, strict=False):
            if p < 0:
                continue
            r = self.rows[int(p)]
            out.append(
                SearchHit(len(out) + 1, r.chunk_id, r.external_id, r.title, r.text, r.category, float(s))
            )
        return out

    def search(self, embedder: Embedder, query: str, k: int) -> list[SearchHit]:
        """The k chunks closest to ``query``, best first."""
        self.check_model(embedder.model_id)
        vec = embedder.encode([query])
        scores, pos = self.search_vectors(vec, k)
        return self.hits(scores[0], pos[0])


def apply_priors(hits: list[SearchHit], priors: dict[int, float]) -> list[SearchHit]:
    """The hits with each score plus its chunk's prior (chunks without one keep their
    score), best first and renumbered; the same list when no hit has a prior."""
    if not priors or not any(h.chunk_id in priors for h in hits):
        return hits
    moved = [
        SearchHit(0, h.chunk_id, h.external_id, h.title, h.text, h.category, 
                  h.score + priors.get(h.chunk_id, 0.0))
        for h in hits
    ]
    moved.sort(key=lambda h: -h.score)  # stable: equal scores keep their retrieval order
    for rank, h in enumerate(moved, start=1):
        h.rank = rank
    return moved


def ranked_hits(session: Session, hits_per_query: list[list[SearchHit]], settings) -> list[list[SearchHit]]:
    """Hits of many queries with the performance prior applied (one query for all chunks)."""
    ids = {h.chunk_id for hits in hits_per_query for h in hits}
    priors = retrieval_priors(session, ids, settings)
    return [apply_priors(hits, priors) for hits in hits_per_query]


def embed_text(title: str, text: str) -> str:
    """What gets embedded (and hashed) for a chunk."""
    return f"{title.strip()}\n{text.strip()}" if title.strip() else text.strip()


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(embed_text(title, text).encode("utf-8")).hexdigest()


def build_faiss(
    vectors: np.ndarray, *, exact_max: int, hnsw_m: int = 32, ef_construction: int = 64, ef_search: int = 384
) -> tuple[object, str]:
    """An exact inner-product index up to ``exact_max`` rows, HNSW above it."""
    n, dim = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= exact_max:
        index = faiss.IndexFlatIP(dim)
        kind = "exact"
    else:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
        kind = "hnsw"
    if n:
        index.add(vectors)
    return index, kind


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_index_file(
    index_dir: Path, index, kind: str, model_id: str, rows: list[Row], calibration: Calibration | None = None
) -> tuple[str, str, int]:
    """Write a version's index file atomically (with its score calibration, when measured).
    Returns (file name, sha256, size)."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    header = json.dumps(
        {
            "format": 1,
            "model_id": model_id,
            "dim": int(index.d),
            "kind": kind,
            "columns": ["chunk_id", "external_id", "content_hash", "title", "text", "category"],
            "rows": [[r.chunk_id, r.external_id, r.content_hash, r.title, r.text, r.category] for r in rows],
            "calibration": calibration.as_dict() if calibration else None,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    blob = faiss.serialize_index(index).tobytes()
    name = f"kb-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:10]}{INDEX_SUFFIX}"
    tmp = index_dir / (name + TMP_SUFFIX)
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as fh:
            for part in (MAGIC, struct.pack("<Q", len(header)), header, blob):
                fh.write(part)
                digest.update(part)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, index_dir / name)
    except BaseException:  # a failed or interrupted (SIGTERM, Ctrl-C) write leaves no partial file
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(index_dir)
    return name, digest.hexdigest(), len(MAGIC) + 8 + len(header) + len(blob)


def read_index_file(
    path: Path, checksum: str | None, *, version_id: int | None = None, ef_search: int | None = None
) -> KBIndex:
    """Load and verify an index file. Raises IndexFileError (never returns a bad index)."""
    label = f"KB version {version_id}" if version_id is not None else "KB index"
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise IndexFileError(
            f"The index file of {label} is missing: {path}. Rebuild with `supportloop kb refresh` "
            "or roll back to another version (`supportloop kb rollback`)."
        ) from None
    except OSError as exc:
        raise IndexFileError(f"Cannot read the index file of {label} ({path}): {exc}.") from exc
    if checksum is not None and hashlib.sha256(data).hexdigest() != checksum:
        raise IndexFileError(
            f"The index file of {label} fails its checksum ({path}): it was changed or damaged "
            "after it was built. Rebuild with `supportloop kb refresh` or roll back to another "
            "version."
        )
    try:
        if not data.startswith(MAGIC):
            raise ValueError("not a supportloop KB index file")
        (hlen,) = struct.unpack("<Q", data[len(MAGIC) : len(MAGIC) + 8])
        start = len(MAGIC) + 8
        header = json.loads(data[start : start + hlen].decode("utf-8"))
        index = faiss.deserialize_index(np.frombuffer(data[start + hlen :], dtype=np.uint8))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a damaged file
        raise IndexFileError(f"The index file of {label} is damaged ({path}): {exc}.") from exc
    if header.get("kind") == "hnsw" and ef_search:
        faiss.downcast_index(index).hnsw.efSearch = ef_search
    rows = [Row(*r) for r in header["rows"]]
    if index.ntotal != len(rows):
        raise IndexFileError(
            f"The index file of {label} is damaged ({path}): {index.ntotal} vectors for {len(rows)} rows."
        )
    return KBIndex(version_id, header["model_id"], header["kind"], index, rows,
                   Calibration.from_dict(header.get("calibration")))


class IndexCache:
    """Holds the loaded index of the active KB version for a process (API, dashboard,
    runner). ``active(session, settings)`` checks the active version id in the database on
    every call (one indexed single-row query) and loads the new file when it changed, so a
    refresh or rollback elsewhere is picked up without a restart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[tuple, KBIndex] = {}
        self.loads = 0

    def get(self, version, settings) -> KBIndex:
        """The loaded index of ``version`` (anything with id, index_file and checksum, e.g. a
        KBVersion row), loading and verifying it if needed."""
        key = (str(Path(settings.index_dir).resolve()), version.id, version.checksum)
        with self._lock:
            hit = self._loaded.get(key)
            if hit is not None:
                return hit
        idx = read_index_file(
            Path(settings.index_dir) / version.index_file,
            version.checksum,
            version_id=version.id,
            ef_search=settings.kb_hnsw_ef_search,
        )
        with self._lock:
            self.loads += 1
            # keep only the newest load: the previous active index is dropped
            self._loaded = {key: idx}
        return idx

    def active(self, session, settings) -> KBIndex:
        """The loaded index of the active version (one small query to notice a switch)."""
        version = session.execute(
            select(KBVersion.id, KBVersion.index_file, KBVersion.checksum).where(
                KBVersion.status == KBVersionStatus.ACTIVE
            )
        ).first()
        if version is None:
            raise NotFound(
                "The knowledge base has no active version yet. Import chunks "
                "(`supportloop kb import FILE`) and build one with `supportloop kb refresh`."
            )
        return self.get(version, settings)

    def clear(self) -> None:
        with self._lock:
            self._loaded = {}


DEFAULT_CACHE = IndexCache()


def search(
    session: Session, query: str, k: int = 5, *, embedder: Embedder, settings,
    index_cache: IndexCache | None = None,
) -> list[SearchHit]:
    """The k chunks of the active KB version closest to ``query``, best first."""
    if not query or not query.strip():
        raise ValidationError("The query is empty.")
    if k < 1:
        raise ValidationError(f"k must be at least 1, got {k}.")
    idx = (index_cache or DEFAULT_CACHE).active(session, settings)
    return ranked_hits(session, [idx.search(embedder, query.strip(), k)], settings)[0]
