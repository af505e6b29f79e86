"""The embedding fine-tune in the loop: quarterly (and on demand) in the job runner.

``embedding_finetune_cycle`` runs one cycle:

1. **skips** (nothing is built) when an embedding-model experiment is already running: its
   promote or rollback decides first;
2. **builds a dataset** of the gold examples an admin approved or corrected (``approved`` and
   ``edited`` examples, human verified; ``core.training.builder``: scrubbed twice, the
   independent PII check, near-duplicates dropped) and **approves it as the loop** (recorded
   in the audit log). It only trains a model on this machine from answers an admin already
   approved one by one; nothing leaves the machine and nothing costs money. Fewer examples
   than ``dataset_min_examples``: the dataset is rejected with that reason and the cycle skips;
3. **launches and trains** a local fine-tune (``core.training.finetune.local_run``: progress per
   training step, cancellable between steps), builds a candidate KB version with the new
   model and **gates** it on the evaluation set;
4. when the gate passes, **starts an experiment** (``local_finetune_experiment_mode``: shadow
   by default, or split, at ``experiment_share``) of the new embedding model and its KB
   version against production. Promotion stays an admin's decision (``experiment promote``).

The job runner runs it as the ``embedding_finetune`` job (``core.ops.jobkinds``); the quarterly
``embedding_finetune`` task only enqueues that job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.answering.routing import running_experiments
from core.experiments.lifecycle import start_from_finetune
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.db import session_scope
from core.platform.errors import Conflict, ValidationError
from core.platform.progress import NO_PROGRESS, Progress, check_cancelled
from core.platform.services import Embedder, Scrubber
from core.platform.statuses import (
    CandidateStatus,
    DatasetKind,
    ExperimentKind,
    ExperimentMode,
    FinetuneProvider,
    FinetuneStatus,
    TrainingSource,
)
from core.training.builder import build_dataset
from core.training.datasets import approve_dataset, reject_dataset
from core.training.finetune.launch import launch
from core.training.finetune.local_run import run_local_job
from core.training.selection import DatasetFilters


class CycleOutcome(StrEnum):
    """How a cycle ended."""

    EXPERIMENT_STARTED = "experiment_started"  # the gate passed and an experiment runs
    CANDIDATE_OFFERED = "candidate_offered"  # the gate passed; no experiment was asked for
    GATE_REJECTED = "gate_rejected"  # the new model's KB version is worse: nothing to test
    FAILED = "failed"  # the fine-tune failed (its error is on the fine-tune job)
    SKIPPED = "skipped"  # nothing trained (an experiment runs, too few examples)


APPROVED_SOURCES = [TrainingSource.APPROVED, TrainingSource.EDITED]


@dataclass
class CycleReport:
    """What one cycle did, for the job run's summary and the CLI."""

    outcome: CycleOutcome
    reason: str
    dataset_version_id: int | None = None
    examples: int = 0
    finetune_job_id: int | None = None
    kb_version_id: int | None = None
    gate: str | None = None
    model_id: str | None = None
    experiment_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": str(self.outcome)}


def _dataset(factory: sessionmaker[Session], settings: Settings, scrubber: Scrubber, actor: Actor,
             clock: Clock, progress: Progress) -> tuple[int | None, int, str]:
    """Build and approve the loop's dataset: (dataset id or None, examples, why not)."""
    now = clock.now()

    def step(stage: str, done: int, total: int) -> None:
        progress.report(done, total, f"building the dataset: {stage}")
        check_cancelled(progress)

    filters = DatasetFilters(kind=DatasetKind.CHAT, human_verified=True, sources=list(APPROVED_SOURCES))
    with session_scope(factory) as s:
        try:
            d = build_dataset(s, settings, scrubber, filters=filters, actor=actor, clock=clock, progress=step,
                              name=f"embedding fine-tune {now:%Y-%m-%d %H:%M} (loop)")
        except ValidationError as exc:
            return None, 0, f"no dataset: {exc}"
        if d.examples < settings.dataset_min_examples:
            why = (f"{d.examples} approved or corrected examples; the embedding fine-tune needs at least "
                   f"{settings.dataset_min_examples}")
            reject_dataset(s, settings, d.id, actor, why, clock=clock)
            return d.id, d.examples, why
        approve_dataset(s, settings, d.id, actor, clock=clock)
        return d.id, d.examples, ""


def embedding_finetune_cycle(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    actor: Actor,
    scrubber: Scrubber,
    base_embedder: Embedder | None = None,
    progress: Progress = NO_PROGRESS,
    clock: Clock | None = None,
    mode: str | None = None,
    share: float | None = None,
    start: bool = True,
) -> CycleReport:
    """One embedding fine-tune cycle (see the module docstring). ``actor`` needs
    ``build_dataset``, ``launch_finetune`` and (with ``start``) ``manage_experiments``;
    ``mode`` / ``share`` of the experiment default to the settings. Raises JobCancelled when
    the job is cancelled (what finished stays: a dataset, a cancelled fine-tune)."""
    for right in ("build_dataset", "launch_finetune") + (("manage_experiments",) if start else ()):
        require(actor, right)
    clock = clock or SystemClock()
    mode = mode or settings.local_finetune_experiment_mode
    if mode not in tuple(ExperimentMode):
        raise ValidationError(f"Unknown experiment mode {mode!r}; use split or shadow.")
    with factory() as s:
        running = running_experiments(s, ExperimentKind.EMBEDDING_MODEL)
    if start and running:
        return CycleReport(CycleOutcome.SKIPPED, f"embedding-model experiment {running[0].id} is running; "
                           "promote, roll back or stop it before the next fine-tune")
    progress.report(0, None, "building the dataset of approved and corrected answers")
    ds_id, examples, why = _dataset(factory, settings, scrubber, actor, clock, progress)
    if why:
        return CycleReport(CycleOutcome.SKIPPED, why, dataset_version_id=ds_id, examples=examples)
    check_cancelled(progress)
    with session_scope(factory) as s:
        job = launch(s, settings, ds_id, actor, provider=FinetuneProvider.LOCAL, clock=clock)
    report = CycleReport(CycleOutcome.FAILED, "", dataset_version_id=ds_id, examples=examples,
                         finetune_job_id=job.id)
    if job.status == FinetuneStatus.FAILED:
        report.reason = f"the fine-tune could not start: {job.error}"
        return report
    done = run_local_job(factory, settings, job.id, actor=actor, progress=progress,
                         base_embedder=base_embedder, clock=clock)
    report.model_id, report.gate = done.fine_tuned_model, done.result.get("gate")
    report.kb_version_id = done.result.get("kb_version_id")
    report.details = {k: done.result.get(k) for k in ("pairs", "steps", "train_seconds", "train_loss",
                                                      "candidate", "active", "reasons")}
    if done.status == FinetuneStatus.FAILED:
        report.reason = f"fine-tune {done.id} failed: {done.error}"
        return report
    if done.candidate_status != CandidateStatus.OFFERED:
        report.outcome = CycleOutcome.GATE_REJECTED
        report.reason = ("the new model's KB version is not better than the active one: "
                         + ("; ".join(done.result.get("reasons") or []) or str(report.gate)))
        return report
    if not start:
        report.outcome = CycleOutcome.CANDIDATE_OFFERED
        report.reason = "passed the gate; offered to experiments"
        return report
    try:
        with session_scope(factory) as s:
            exp = start_from_finetune(s, settings, done.id, actor=actor, clock=clock, mode=mode, share=share,
                                      name=f"embedding fine-tune {done.id}: {done.fine_tuned_model}")
            report.experiment_id = exp.id
    except (Conflict, ValidationError) as exc:
        report.outcome = CycleOutcome.CANDIDATE_OFFERED
        report.reason = f"passed the gate, but no experiment started: {exc}"
        return report
    report.outcome = CycleOutcome.EXPERIMENT_STARTED
    exp_id = report.experiment_id
    report.reason = (f"passed the gate; experiment {exp_id} ({mode}) tests it against production. An admin "
                     f"promotes it (`supportloop experiments promote {exp_id}`).")
    return report
