"""What an experiment can test, and starting one from any candidate.

A candidate is one of three things (``ExperimentKind``):

- a **KB version** (``kb_version``): a candidate or retired version built with the embedding
  model production serves;
- a **chat model** (``chat_model``): a succeeded OpenAI fine-tune's model, or any model name
  the chat API serves;
- an **embedding model** (``embedding_model``): a succeeded local fine-tune's model folder
  with the KB version it built (the version is what the new model searches).

``candidate_options`` lists what can be tested now (for the dashboard and
``supportloop experiments candidates``); ``resolve`` turns what a person typed (a KB version
id, a model name, a fine-tuned embedder's id or folder) into the kind and candidate;
``start_candidate`` starts the experiment (taking a fine-tune's offered candidate when it
came from one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.answering.routing import production_settings
from core.experiments.lifecycle import start_experiment, start_from_finetune
from core.knowledge.versions import active_version
from core.platform.actors import Actor
from core.platform.config import Settings
from core.platform.errors import NotFound, ValidationError
from core.platform.models import FineTuneJob, KBVersion
from core.platform.statuses import (
    CandidateStatus,
    ExperimentKind,
    FinetuneProvider,
    FinetuneStatus,
    KBVersionStatus,
)

MAX_OPTIONS = 20  # newest first, per kind


@dataclass
class CandidateOption:
    """One thing an experiment can test: its kind, a label in plain words, the candidate, and
    ``ref``: how a person names it (the KB version id, the model's id)."""

    kind: str
    label: str
    candidate: dict[str, Any]
    ref: str
    finetune_job_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _finetunes(session: Session, provider: str) -> list[FineTuneJob]:
    q = (select(FineTuneJob)
         .where(FineTuneJob.provider == provider, FineTuneJob.status == FinetuneStatus.SUCCEEDED,
                FineTuneJob.candidate_status.in_((CandidateStatus.OFFERED, CandidateStatus.TAKEN)))
         .order_by(FineTuneJob.id.desc()).limit(MAX_OPTIONS))
    return list(session.scalars(q))


def candidate_options(session: Session, settings: Settings) -> list[CandidateOption]:
    """Everything an experiment can test now, by kind (KB versions, embedding models, chat
    models), newest first; never what production already serves."""
    prod = production_settings(session, settings)
    active = active_version(session)
    out: list[CandidateOption] = []
    if active is not None:
        q = (select(KBVersion)
             .where(KBVersion.status.in_((KBVersionStatus.CANDIDATE, KBVersionStatus.RETIRED)),
                    KBVersion.model_id == active.model_id)
             .order_by(KBVersion.id.desc()).limit(MAX_OPTIONS))
        for v in session.scalars(q):
            out.append(CandidateOption(
                ExperimentKind.KB_VERSION,
                f"KB version {v.id} ({v.status}, {v.chunk_count} chunks)", {"kb_version_id": v.id}, str(v.id),
                details={"built_at": v.created_at, "built_by": v.built_by, "reason": v.reason}))
    for job in _finetunes(session, FinetuneProvider.LOCAL):
        path, version_id = (job.result or {}).get("model_path"), (job.result or {}).get("kb_version_id")
        version = session.get(KBVersion, version_id) if version_id else None
        if not path or version is None or version.status != KBVersionStatus.CANDIDATE:
            continue
        if path == (prod.embedding_model_path or ""):
            continue
        out.append(CandidateOption(
            ExperimentKind.EMBEDDING_MODEL,
            f"Embedding model {job.fine_tuned_model} from fine-tune {job.id}, with KB version {version.id}",
            {"embedding_model_path": path, "kb_version_id": version.id}, job.fine_tuned_model or path, job.id,
            details={"built_at": job.finished_at, "gate": (job.result or {}).get("candidate")}))
    for job in _finetunes(session, FinetuneProvider.OPENAI):
        if job.fine_tuned_model and job.fine_tuned_model != prod.chat_model:
            out.append(CandidateOption(ExperimentKind.CHAT_MODEL,
                                       f"Chat model {job.fine_tuned_model} from fine-tune {job.id}",
                                       {"chat_model": job.fine_tuned_model}, job.fine_tuned_model, job.id,
                                       details={"built_at": job.finished_at}))
    return out


def _embedding_job(session: Session, value: str) -> FineTuneJob | None:
    """The succeeded local fine-tune whose model id or folder is ``value``."""
    for job in session.scalars(select(FineTuneJob).where(FineTuneJob.provider == FinetuneProvider.LOCAL,
                                                         FineTuneJob.status == FinetuneStatus.SUCCEEDED)):
        if value in (job.fine_tuned_model, (job.result or {}).get("model_path")):
            return job
    return None


def resolve(
    session: Session,
    *,
    kind: str | None = None,
    kb_version_id: int | None = None,
    chat_model: str | None = None,
    embedding_model: str | None = None,
) -> tuple[str, dict[str, Any], int | None]:
    """(kind, candidate, fine-tune job id) of what a person named. The kind follows from the
    option given when not said; an embedding model may be named by its id
    (``local:minilm-ft-...``) or folder, and then brings its fine-tune's KB version."""
    chat_model, embedding_model = (chat_model or "").strip(), (embedding_model or "").strip()
    if kind is None:
        kind = (ExperimentKind.EMBEDDING_MODEL if embedding_model else ExperimentKind.CHAT_MODEL if chat_model
                else ExperimentKind.KB_VERSION if kb_version_id is not None else None)
    if kind is None:
        raise ValidationError("Say what to test: a KB version id, a chat model name or an embedding model "
                              "(`supportloop experiments candidates` lists them).")
    if kind not in tuple(ExperimentKind):
        raise ValidationError(f"Unknown experiment kind {kind!r}; use one of {', '.join(ExperimentKind)}.")
    if kind == ExperimentKind.CHAT_MODEL:
        job = session.scalar(select(FineTuneJob.id).where(FineTuneJob.fine_tuned_model == chat_model,
                                                          FineTuneJob.provider == FinetuneProvider.OPENAI))
        return kind, {"chat_model": chat_model}, job
    if kind == ExperimentKind.KB_VERSION:
        return kind, {"kb_version_id": kb_version_id}, None
    if not embedding_model:
        raise ValidationError("An embedding-model experiment needs the model: its id (local:minilm-ft-...) "
                              "or folder.")
    job = _embedding_job(session, embedding_model)
    if job is None and kb_version_id is None:
        raise NotFound(f"No succeeded local fine-tune made {embedding_model!r}; name one from "
                       "`supportloop experiments candidates`, or give the folder with --kb-version.")
    path = (job.result or {}).get("model_path") if job is not None else embedding_model
    version = kb_version_id if kb_version_id is not None else (job.result or {}).get("kb_version_id")
    return kind, {"embedding_model_path": path, "kb_version_id": version}, job.id if job else None


def start_candidate(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    candidate: dict[str, Any],
    actor: Actor,
    finetune_job_id: int | None = None,
    **options: Any,
) -> Any:
    """Start an experiment on ``candidate`` (``manage_experiments``); ``options`` are
    ``start_experiment``'s (mode, share, days, min_users_per_arm, name). A candidate a
    fine-tune still offers is taken from it (``start_from_finetune``)."""
    job = session.get(FineTuneJob, finetune_job_id) if finetune_job_id is not None else None
    if job is not None and job.candidate_status == CandidateStatus.OFFERED:
        return start_from_finetune(session, settings, job.id, actor=actor, **options)
    return start_experiment(session, settings, kind=kind, candidate=candidate, actor=actor,
                            finetune_job_id=finetune_job_id, **options)
