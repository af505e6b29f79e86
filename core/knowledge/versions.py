"""KB versions: build (with the embedding cache), activate, roll back, list.

A version is an immutable snapshot: its chunks and their content hashes
(``kb_version_chunk``), the embedding model id, and an index file written completely
(temporary name, fsync, rename) before the version row points at it. Activation verifies
the file's checksum, then switches the active row in the caller's transaction: a crash
anywhere before the commit leaves the previous active version serving.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from tqdm import tqdm

from core.knowledge.calibration import measure, probe
from core.knowledge.evaluation import active_questions
from core.knowledge.index import (
    INDEX_SUFFIX,
    TMP_SUFFIX,
    KBIndex,
    Row,
    build_faiss,
    content_hash,
    embed_text,
    read_index_file,
    write_index_file,
)
from core.platform import audit, events
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import Conflict, NotFound, ValidationError
from core.platform.models import Chunk, EmbeddingCache, Experiment, KBVersion, KBVersionChunk
from core.platform.services import Embedder
from core.platform.statuses import ChunkStatus, ExperimentStatus, KBVersionStatus

EMBED_BATCH = 256
FETCH_BATCH = 500


def active_version(session: Session) -> KBVersion | None:
    """The active KB version row, or None before the first activation."""
    return session.scalars(select(KBVersion).where(KBVersion.status == KBVersionStatus.ACTIVE)).first()


def get_version(session: Session, version_id: int) -> KBVersion:
    version = session.get(KBVersion, version_id)
    if version is None:
        raise NotFound(f"KB version {version_id} does not exist; `supportloop kb versions` lists them.")
    return version


def list_versions(session: Session, limit: int = 50) -> list[KBVersion]:
    """KB versions, newest first."""
    return list(session.scalars(select(KBVersion).order_by(KBVersion.id.desc()).limit(limit)))


def version_chunk_ids(session: Session, version_id: int) -> list[int]:
    q = (
        select(KBVersionChunk.chunk_id)
        .where(KBVersionChunk.kb_version_id == version_id)
        .order_by(KBVersionChunk.position)
    )
    return list(session.scalars(q))


def _upsert_ignore(session: Session, table, rows: list[dict]) -> None:
    """Insert rows, skipping keys that already exist (two builds may embed the same text)."""
    if not rows:
        return
    name = session.get_bind().dialect.name
    if name == "postgresql":
        dialect_insert = postgresql.insert
    elif name == "sqlite":
        dialect_insert = sqlite.insert
    else:  # pragma: no cover - only the two supported backends
        session.execute(insert(table), rows)
        return
    session.execute(dialect_insert(table).on_conflict_do_nothing(), rows)


def cached_vectors(session: Session, hashes: Sequence[str], model_id: str) -> dict[str, np.ndarray]:
    """Vectors of the embedding cache for these content hashes and this model."""
    found: dict[str, np.ndarray] = {}
    unique = list(dict.fromkeys(hashes))
    for i in range(0, len(unique), FETCH_BATCH):
        part = unique[i : i + FETCH_BATCH]
        q = select(EmbeddingCache.content_hash, EmbeddingCache.vector).where(
            EmbeddingCache.model_id == model_id, EmbeddingCache.content_hash.in_(part)
        )
        for h, blob in session.execute(q):
            found[h] = np.frombuffer(blob, dtype=np.float32)
    return found


def embed_chunks(
    session: Session, embedder: Embedder, texts_by_hash: dict[str, str], *, clock: Clock,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], int]:
    """Vectors for every content hash: from the cache, embedding (and caching) the rest.
    Returns (vectors by hash, how many were embedded now)."""
    vectors = cached_vectors(session, list(texts_by_hash), embedder.model_id)
    missing = [h for h in texts_by_hash if h not in vectors]
    bar = None
    if progress and missing:
        bar = tqdm(total=len(missing), desc="embedding chunks", unit="chunk")
    now = clock.now()
    for i in range(0, len(missing), EMBED_BATCH):
        part = missing[i : i + EMBED_BATCH]
        vecs = np.asarray(embedder.encode([texts_by_hash[h] for h in part]), dtype=np.float32)
        if vecs.shape != (len(part), embedder.dim):
            raise ValidationError(
                f"The embedder {embedder.model_id!r} returned shape {vecs.shape} for {len(part)} "
                f"texts; expected ({len(part)}, {embedder.dim})."
            )
        rows = []
        for h, v in zip(part, vecs, strict=True):
            vectors[h] = v
            rows.append(
                {
                    "content_hash": h,
                    "model_id": embedder.model_id,
                    "dim": embedder.dim,
                    "vector": v.astype(np.float32).tobytes(),
                    "created_at": now,
                }
            )
        _upsert_ignore(session, EmbeddingCache.__table__, rows)
        if bar:
            bar.update(len(part))
    if bar:
        bar.close()
    return vectors, len(missing)


def cleanup_temp_files(index_dir: Path, older_than_s: float = 3600) -> int:
    """Remove temporary index files left by builds that died (older than an hour)."""
    removed = 0
    folder = Path(index_dir)
    if not folder.exists():
        return 0
    cutoff = time.time() - older_than_s
    for p in folder.glob(f"*{TMP_SUFFIX}"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
                removed += 1
        except OSError:  # pragma: no cover - raced with another cleaner
            pass
    return removed


def build_version(
    session: Session,
    embedder: Embedder,
    settings,
    *,
    actor: Actor,
    chunks: Sequence[Chunk] | None = None,
    reason: str = "",
    clock: Clock | None = None,
    progress: bool = False,
) -> KBVersion:
    """Build a candidate KB version from ``chunks`` (default: every active chunk).

    Embeds only texts the cache lacks for this embedder, writes the index file atomically,
    then adds the version row (status candidate) and its chunk list. Nothing is activated.
    ``actor`` (the builder, ``built_by``) needs the ``manage_kb`` right.
    """
    require(actor, "manage_kb")
    clock = clock or SystemClock()
    started = time.perf_counter()
    if chunks is None:
        chunks = list(
            session.scalars(select(Chunk).where(Chunk.status == ChunkStatus.ACTIVE).order_by(Chunk.id))
        )
    chunks = sorted(chunks, key=lambda c: c.id)
    if not chunks:
        raise ValidationError(
            "The knowledge base has no active chunks to build a version from. Import some with "
            "`supportloop kb import FILE` or propose them with `supportloop kb propose`."
        )
    cleanup_temp_files(settings.index_dir)
    # the calibration's queries are embedded before anything is written (no write lock held)
    calibration_probe = probe(chunks, active_questions(session), embedder)
    texts_by_hash: dict[str, str] = {}
    for c in chunks:
        h = content_hash(c.title, c.text)
        if c.content_hash != h:  # text edited outside the helpers: keep the hash honest
            c.content_hash = h
        texts_by_hash.setdefault(h, embed_text(c.title, c.text))
    vectors, embedded = embed_chunks(session, embedder, texts_by_hash, clock=clock, progress=progress)
    matrix = np.stack([vectors[c.content_hash] for c in chunks]).astype(np.float32)
    index, kind = build_faiss(
        matrix,
        exact_max=settings.kb_exact_search_max,
        hnsw_m=settings.kb_hnsw_m,
        ef_construction=settings.kb_hnsw_ef_construction,
        ef_search=settings.kb_hnsw_ef_search,
    )
    rows = [Row(c.id, c.external_id, c.content_hash, c.title, c.text, c.category) for c in chunks]
    built = KBIndex(None, embedder.model_id, kind, index, rows)
    calibration = measure(built, calibration_probe, embedder)
    name, checksum, size = write_index_file(
        settings.index_dir, index, kind, embedder.model_id, rows, calibration
    )
    try:  # no row will point at the file if this fails: remove it now
        parent = active_version(session)
        version = KBVersion(
            status=KBVersionStatus.CANDIDATE,
            model_id=embedder.model_id,
            dim=int(embedder.dim),
            index_kind=kind,
            index_file=name,
            checksum=checksum,
            file_size=size,
            chunk_count=len(chunks),
            embedded_count=embedded,
            built_by=actor.name,
            reason=reason,
            parent_version_id=parent.id if parent else None,
            created_at=clock.now(),
        )
        session.add(version)
        session.flush()
        session.execute(
            insert(KBVersionChunk),
            [
                {"kb_version_id": version.id, "position": i, "chunk_id": c.id, "content_hash": c.content_hash}
                for i, c in enumerate(chunks)
            ],
        )
        version.build_seconds = round(time.perf_counter() - started, 3)
        session.flush()
    except BaseException:
        (Path(settings.index_dir) / name).unlink(missing_ok=True)
        raise
    return version


def activate_version(
    session: Session,
    version_id: int,
    settings,
    *,
    actor: Actor,
    clock: Clock | None = None,
    reason: str = "",
    force: bool = False,
) -> KBVersion:
    """Make a version the active one in the caller's transaction (``manage_kb``).

    The index file is loaded and its checksum verified first: a missing or damaged file
    raises IndexFileError and nothing is switched. A rejected version needs ``force``.
    """
    require(actor, "manage_kb")
    clock = clock or SystemClock()
    version = get_version(session, version_id)
    if version.status == KBVersionStatus.ACTIVE:
        raise Conflict(f"KB version {version.id} is already active.")
    if version.status == KBVersionStatus.REJECTED and not force:
        raise Conflict(
            f"KB version {version.id} was rejected by the evaluation gate ({version.decision or 'worse'}). "
            "Pass --force to activate it anyway."
        )
    read_index_file(Path(settings.index_dir) / version.index_file, version.checksum, version_id=version.id)
    previous = active_version(session)
    now = clock.now()
    if previous is not None:
        previous.status = KBVersionStatus.RETIRED
        previous.retired_at = now
        session.flush()  # the one-active index must see the old row retired first
    before = {"status": version.status}
    version.status = KBVersionStatus.ACTIVE
    version.activated_at = now
    if reason:
        version.decision = reason
    session.flush()
    audit.record(
        session,
        actor.name,
        "activate",
        "kb_version",
        version.id,
        before=before,
        after={"status": KBVersionStatus.ACTIVE, "previous": previous.id if previous else None},
        clock=clock,
    )
    events.record(
        session,
        "kb.activated",
        f"KB version {version.id} is active",
        details={
            "version_id": version.id,
            "previous_id": previous.id if previous else None,
            "actor": actor.name,
            "reason": reason,
        },
        clock=clock,
    )
    return version


def rollback(
    session: Session, settings, *, actor: Actor, to_version_id: int | None = None, clock: Clock | None = None
) -> KBVersion:
    """Activate the previously active version (or ``to_version_id``) in one step (``manage_kb``)."""
    require(actor, "manage_kb")
    current = active_version(session)
    if to_version_id is None:
        q = (
            select(KBVersion)
            .where(KBVersion.status == KBVersionStatus.RETIRED, KBVersion.activated_at.is_not(None))
            .order_by(KBVersion.activated_at.desc(), KBVersion.id.desc())
        )
        if current is not None:
            q = q.where(KBVersion.id != current.id)
        target = session.scalars(q).first()
        if target is None:
            raise NotFound("There is no earlier active KB version to roll back to.")
        to_version_id = target.id
    return activate_version(
        session,
        to_version_id,
        settings,
        actor=actor,
        clock=clock,
        reason=f"rollback from {current.id if current else 'none'}",
        force=True,
    )


# --- pruning ----------------------------------------------------------------------------------
@dataclass
class PruneReport:
    """What ``prune_index_files`` deleted (or would delete, with ``dry_run``) and kept."""

    dry_run: bool
    deleted: list[str] = field(default_factory=list)  # file names
    freed_bytes: int = 0
    versions: list[int] = field(default_factory=list)  # versions whose file was deleted
    kept: dict[str, str] = field(default_factory=dict)  # file name -> why it stays


def _kept_versions(session: Session, settings) -> dict[int, str]:
    """Versions whose index file must stay, with the reason."""
    keep: dict[int, str] = {}
    for v in session.scalars(select(KBVersion).where(KBVersion.status == KBVersionStatus.ACTIVE)):
        keep[v.id] = "active"
    rollback = session.scalars(
        select(KBVersion.id)
        .where(KBVersion.status == KBVersionStatus.RETIRED, KBVersion.activated_at.is_not(None))
        .order_by(KBVersion.retired_at.desc(), KBVersion.id.desc())
        .limit(settings.kb_rollback_versions)
    )
    for vid in rollback:
        keep.setdefault(vid, "rollback")
    for exp in session.scalars(select(Experiment).where(Experiment.status == ExperimentStatus.RUNNING)):
        for arm in (exp.control or {}, exp.candidate or {}):
            try:
                keep.setdefault(int(arm.get("kb_version_id")), f"experiment {exp.id}")
            except (TypeError, ValueError):
                continue
    return keep


def prune_index_files(
    session: Session, settings, *, actor: Actor, clock: Clock | None = None, dry_run: bool = False
) -> PruneReport:
    """Delete index files nothing needs (``manage_kb``): the file of a version that is neither
    active, one of the ``kb_rollback_versions`` last retired ones, nor used by a running
    experiment, once it is ``kb_prune_after_days`` old (since it was built or retired); and
    files no version refers to (a killed or failed build) and temporary files, once they are
    ``kb_orphan_file_hours`` old (a build in progress is younger). Version rows stay; activating
    a pruned version fails with a clear error. ``dry_run`` only reports."""
    require(actor, "manage_kb")
    now = (clock or SystemClock()).now()
    folder = Path(settings.index_dir)
    report = PruneReport(dry_run=dry_run)
    if not folder.exists():
        return report
    keep = _kept_versions(session, settings)
    by_file = {v.index_file: v for v in session.scalars(select(KBVersion))}
    version_cutoff = now - dt.timedelta(days=settings.kb_prune_after_days)
    orphan_cutoff = time.time() - settings.kb_orphan_file_hours * 3600
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not path.name.endswith((INDEX_SUFFIX, TMP_SUFFIX)):
            continue  # not ours
        version = by_file.get(path.name)
        try:
            st = path.stat()
        except FileNotFoundError:  # pragma: no cover - removed by another pruner meanwhile
            continue
        if version is None:
            if st.st_mtime >= orphan_cutoff:
                report.kept[path.name] = "recent file without a version (a build may be running)"
                continue
        elif version.id in keep:
            report.kept[path.name] = f"version {version.id}: {keep[version.id]}"
            continue
        elif (version.retired_at or version.created_at) > version_cutoff:
            report.kept[path.name] = f"version {version.id}: {version.status} less than " \
                                     f"{settings.kb_prune_after_days} days ago"
            continue
        if not dry_run:
            try:
                os.unlink(path)
            except FileNotFoundError:  # pragma: no cover - raced with another pruner
                continue
        report.deleted.append(path.name)
        report.freed_bytes += st.st_size
        if version is not None:
            report.versions.append(version.id)
    if report.deleted and not dry_run:
        audit.record(session, actor.name, "prune", "kb_index_files", None,
                     after={"files": report.deleted, "versions": report.versions,
                            "freed_bytes": report.freed_bytes}, clock=clock)
    return report
