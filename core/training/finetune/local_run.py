"""Training a local embedding fine-tune in the job runner, with progress and cancel.

``run_local_job`` takes a queued local fine-tune (``launch(provider="local")``) and:

1. **claims** it (``queued`` -> ``running`` in one conditional UPDATE, so two runners never
   train the same job);
2. **trains** the embedding model (``local_provider.train_embedding_model``) from the model
   production serves, on the dataset's (question, answer) pairs and, with
   ``local_finetune_kb_pairs`` (on by default), the active KB's chunks that came from
   conversations (approved answers, agents' replies: ``chunks.question_answer_pairs``), each pair
   once, reporting every optimizer step and stopping at the next step when the
   job run is cancelled or an admin cancels the fine-tune (``finetune cancel``);
3. **embeds the knowledge base** with the new model, each batch of vectors committed to the
   embedding cache as it is made, then builds a candidate KB version from the cache;
4. **gates** it on the evaluation set (``core.knowledge.evaluation.gate``: the paired test of
   the candidate version with the new model against the active version with production's
   model, question by question). It is never
   activated: a version that is not worse stays ``candidate`` and the model is offered to
   experiments; a worse one is ``rejected``;
5. records the outcome on the job (``apply_state``: succeeded with the model folder, the KB
   version and the gate; failed with the error; cancelled).

Every database step is its own short transaction: no write lock is held while the model
trains, while the KB is embedded or while the evaluation questions are answered. A
cancelled or failed run leaves no model folder and no usable KB version behind.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.answering.routing import production_embedder, production_settings
from core.knowledge.chunks import question_answer_pairs
from core.knowledge.evaluation import active_questions, evaluate, gate, summary
from core.knowledge.index import content_hash, embed_text, read_index_file
from core.knowledge.versions import EMBED_BATCH, active_version, build_version, cached_vectors, embed_chunks
from core.platform import events
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.db import session_scope
from core.platform.embeddings import MiniLMEmbedder
from core.platform.errors import Conflict, ValidationError
from core.platform.models import Chunk, FineTuneJob, KBVersion
from core.platform.progress import NO_PROGRESS, JobCancelled, Progress
from core.platform.services import Embedder
from core.platform.statuses import ChunkStatus, FinetuneProvider, FinetuneStatus, KBVersionStatus
from core.training.finetune.jobs import JobInfo, apply_state, get_job_row, job_info, job_view
from core.training.finetune.local_provider import base_model_path, read_pairs, train_embedding_model
from core.training.finetune.provider import ProviderState

PERMISSION = "launch_finetune"
CANCEL_CHECK_SECONDS = 2.0  # how often training looks at the fine-tune row for an admin's cancel
_GATE_KEYS = ("hit_at_1", "hit_at_5", "mrr", "escalation_rate", "answered_accuracy")


class _Stop:
    """Raises JobCancelled when the job run is cancelled (``progress``) or the fine-tune row
    was cancelled by an admin (read at most every ``CANCEL_CHECK_SECONDS``)."""

    def __init__(self, factory: sessionmaker[Session], job_id: int, progress: Progress):
        self.factory, self.job_id, self.progress = factory, job_id, progress
        self.last = time.monotonic()

    def __call__(self, force: bool = False) -> None:
        if self.progress.cancelled():
            raise JobCancelled(f"Fine-tune {self.job_id} was cancelled; nothing of it was kept.")
        if not force and time.monotonic() - self.last < CANCEL_CHECK_SECONDS:
            return
        self.last = time.monotonic()
        with self.factory() as s:
            status = s.scalar(select(FineTuneJob.status).where(FineTuneJob.id == self.job_id))
        if status == FinetuneStatus.CANCELLED:
            raise JobCancelled(f"Fine-tune {self.job_id} was cancelled by an admin; nothing of it was kept.")


def _claim(factory: sessionmaker[Session], settings: Settings, job_id: int,
           clock: Clock) -> tuple[Any, Settings]:
    """Take the queued local job (Conflict when it is not a queued local job); its provider view
    and the production settings (the embedding model it trains from)."""
    with session_scope(factory) as s:
        job = get_job_row(s, job_id)
        if job.provider != FinetuneProvider.LOCAL:
            raise ValidationError(f"Fine-tune {job.id} runs at {job.provider}; only a local one trains here.")
        now = clock.now()
        took = s.execute(
            update(FineTuneJob)
            .where(FineTuneJob.id == job_id,
                   FineTuneJob.status.in_((FinetuneStatus.QUEUED, FinetuneStatus.PENDING)))
            .values(status=FinetuneStatus.RUNNING, started_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if took != 1:
            raise Conflict(f"Fine-tune {job.id} is {job.status}; only a queued local fine-tune can be "
                           "trained.")
        s.expire(job)
        return job_view(settings, job), production_settings(s, settings)


def _embed_kb(factory: sessionmaker[Session], embedder: Embedder, clock: Clock, progress: Progress,
              stop: _Stop) -> int:
    """Put every active chunk's vector of ``embedder`` in the embedding cache, one committed
    transaction per batch (the model embeds before each batch's short write). Returns how many
    chunks there are (0: nothing to build)."""
    with factory() as s:
        texts = {}
        for c in s.scalars(select(Chunk).where(Chunk.status == ChunkStatus.ACTIVE).order_by(Chunk.id)):
            texts.setdefault(content_hash(c.title, c.text), embed_text(c.title, c.text))
        have = set(cached_vectors(s, list(texts), embedder.model_id))
    missing = [h for h in texts if h not in have]
    for i in range(0, len(missing), EMBED_BATCH):
        stop()
        part = missing[i : i + EMBED_BATCH]
        progress.report(i, len(missing), f"embedding the knowledge base with the new model: {i} of "
                                         f"{len(missing)} chunks")
        with session_scope(factory) as s:
            embed_chunks(s, embedder, {h: texts[h] for h in part}, clock=clock)
    return len(texts)


def _evaluate(session: Session, settings: Settings, version: KBVersion, embedder: Embedder) -> dict:
    idx = read_index_file(Path(settings.index_dir) / version.index_file, version.checksum,
                          version_id=version.id, ef_search=settings.kb_hnsw_ef_search)
    return evaluate(idx, active_questions(session), embedder, settings)


def _gate(factory: sessionmaker[Session], settings: Settings, embedder: Embedder, base: Embedder, *,
          actor: Actor, clock: Clock, job_id: int) -> dict[str, Any]:
    """Build the candidate KB version from the cache and gate it (never activated). Returns the
    gate's outcome: ``gate`` passed / rejected / no_kb, the version, both reports' summaries."""
    with session_scope(factory) as s:
        version = build_version(s, embedder, settings, actor=actor, clock=clock,
                                reason=f"local fine-tune {job_id}: {embedder.model_id}")
        version_id = version.id
    try:
        with factory() as s:  # reads only: no write lock while the questions are embedded
            cand_report = _evaluate(s, settings, s.get(KBVersion, version_id), embedder)
            active = active_version(s)
            active_id, reasons, active_report = (active.id if active else None), [], None
            if active is not None and active.model_id == base.model_id:
                active_report = _evaluate(s, settings, active, base)
            elif active is not None:
                active_report = active.eval_report
                reasons.append(f"active version {active.id} compared by its stored report")
    except BaseException:
        _reject(factory, version_id, "the evaluation failed; see the fine-tune's error")
        raise
    ok, worse, tests = gate(cand_report, active_report, settings.kb_gate_alpha, settings.kb_gate_tolerance)
    if cand_report.get("hit_at_1") is None:
        reasons.append("no evaluation questions: the gate could not compare")
    with session_scope(factory) as s:
        version = s.get(KBVersion, version_id)
        version.eval_report = {**cand_report, "baseline_version_id": active_id,
                               "baseline": {k: (active_report or {}).get(k) for k in _GATE_KEYS}}
        if ok:
            against = f" against version {active_id}" if active_id else ""
            version.decision = f"passed the gate{against}; candidate for an experiment (not activated)"
        else:
            version.status = KBVersionStatus.REJECTED
            version.decision = f"worse than active version {active_id}: " + "; ".join(worse)
            events.record(s, "finetune.candidate_rejected",
                          f"KB candidate {version_id} of {embedder.model_id} is worse than the active "
                          "version", severity="warning", clock=clock,
                          details={"kb_version_id": version_id, "worse": worse})
    return {"gate": "passed" if ok else "rejected", "kb_version_id": version_id,
            "candidate": summary(cand_report), "active": summary(active_report) if active_report else None,
            "reasons": reasons + worse,
            "paired_tests": [{k: v for k, v in t.items() if not isinstance(v, list | dict)} for t in tests]}


def _reject(factory: sessionmaker[Session], version_id: int | None, why: str) -> None:
    """A candidate KB version of a fine-tune that did not finish can never serve."""
    if version_id is None:
        return
    with session_scope(factory) as s:
        v = s.get(KBVersion, version_id)
        if v is not None and v.status == KBVersionStatus.CANDIDATE:
            v.status, v.decision = KBVersionStatus.REJECTED, why[:2000]


def _finish(factory: sessionmaker[Session], settings: Settings, job_id: int, state: ProviderState,
            clock: Clock) -> JobInfo:
    with session_scope(factory) as s:
        job = get_job_row(s, job_id)
        if job.status == FinetuneStatus.RUNNING:  # an admin's cancel already recorded stays as it is
            apply_state(s, settings, job, state, clock)
        return job_info(job)


def run_local_job(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    *,
    actor: Actor,
    progress: Progress = NO_PROGRESS,
    base_embedder: Embedder | None = None,
    embedder_loader: Callable[[Path, str], Embedder] | None = None,
    clock: Clock | None = None,
) -> JobInfo:
    """Train queued local fine-tune ``job_id`` (see the module docstring); ``actor`` needs the
    ``launch_finetune`` right and builds the KB version. ``base_embedder`` is the embedder
    production serves (default: loaded from the production settings); ``embedder_loader(folder,
    model_id)`` loads the trained model (default ``MiniLMEmbedder``). Returns the job as it
    ended (succeeded or failed); raises JobCancelled when it was cancelled."""
    require(actor, PERMISSION)
    clock = clock or SystemClock()
    view, prod = _claim(factory, settings, job_id, clock)
    stop = _Stop(factory, job_id, progress)
    model_name = f"minilm-ft-{job_id}-{clock.now():%Y%m%d%H%M%S}"
    model_id, out_dir = f"local:{model_name}", Path(settings.data_dir) / "models" / model_name
    builder = dataclasses.replace(actor, name=f"finetune:{job_id}") if actor.id == 0 else actor
    gate: dict[str, Any] = {}
    try:
        pairs = read_pairs(view.train_path)
        if settings.local_finetune_kb_pairs:  # the KB's own questions and answers, each pair once
            with factory() as s:
                pairs = list(dict.fromkeys(pairs + question_answer_pairs(s)))
        if len(pairs) < 2:
            raise ValidationError(f"the training file has {len(pairs)} question/answer pairs; at least 2 "
                                  "are needed")

        def on_step(done: int, total: int) -> None:
            progress.report(done, total, f"training the embedding model: step {done} of {total} "
                                         f"({view.epochs} epoch{'s' if view.epochs != 1 else ''}, "
                                         f"{len(pairs)} pairs)")
            stop(force=done == 0)

        facts = train_embedding_model(pairs, base_model_path(prod), out_dir, epochs=view.epochs,
                                      batch_size=settings.local_finetune_batch_size,
                                      learning_rate=settings.local_finetune_learning_rate,
                                      seed=settings.dataset_seed, on_step=on_step)
        stop(force=True)
        embedder = (embedder_loader or (lambda p, m: MiniLMEmbedder(p, model_id=m)))(out_dir, model_id)
        if _embed_kb(factory, embedder, clock, progress, stop):
            base = base_embedder
            if base is None:
                with factory() as s:
                    base = production_embedder(s, settings)
            progress.report(0, 1, "evaluating the candidate KB version against the active one")
            gate = _gate(factory, prod, embedder, base, actor=builder, clock=clock, job_id=job_id)
            stop(force=True)
        else:
            gate = {"gate": "no_kb",
                    "reasons": ["the knowledge base has no active chunks; nothing to evaluate"]}
    except JobCancelled:
        shutil.rmtree(out_dir, ignore_errors=True)
        _reject(factory, gate.get("kb_version_id"), f"fine-tune {job_id} was cancelled")
        _finish(factory, settings, job_id, ProviderState(status=FinetuneStatus.CANCELLED), clock)
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure fails the job with its message
        shutil.rmtree(out_dir, ignore_errors=True)
        _reject(factory, gate.get("kb_version_id"), f"fine-tune {job_id} failed: {exc}")
        failed = _finish(factory, settings, job_id, ProviderState(
            status=FinetuneStatus.FAILED, provider_job_id=view.provider_job_id,
            error=f"{type(exc).__name__}: {exc}"), clock)
        if not isinstance(exc, Exception):  # the runner is stopping: the job is recorded failed
            raise
        return failed
    progress.report(1, 1, f"done: gate {gate['gate']}")
    done = _finish(factory, settings, job_id, ProviderState(
        status=FinetuneStatus.SUCCEEDED, provider_job_id=view.provider_job_id, fine_tuned_model=model_id,
        result={"model_path": str(out_dir), "model_id": model_id, **facts, **gate},
        candidate=gate["gate"] == "passed",
        events=[{"id": f"local-{job_id}-done", "level": "info",
                 "message": f"trained on {facts['pairs']} pairs in {facts['steps']} steps "
                            f"({facts['train_seconds']}s); gate {gate['gate']}"}],
    ), clock)
    if done.status != FinetuneStatus.SUCCEEDED:  # cancelled by an admin in the very last moment
        shutil.rmtree(out_dir, ignore_errors=True)
        _reject(factory, gate.get("kb_version_id"), f"fine-tune {job_id} was cancelled")
    return done
