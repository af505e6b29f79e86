"""The life of an experiment: start, adjust, decide, and the runner's daily look.

- **Start** (``start_experiment`` / ``start_from_finetune``): control is what production
  serves now (pinned: a weekly KB refresh does not move it), the candidate what is tested;
  mode ``split`` (users hashed into arms, ``core.answering.routing``) or ``shadow`` (the
  candidate answers the same questions too; its answer is stored, never sent); a share
  (default 10 %), a salt, a planned end (default 7 days, up to ``experiment_max_days``) and a
  minimum sample per arm. At most one running experiment per kind (the database enforces it).
- **Adjust**: ``set_share`` raises the share (candidate users stay candidates), ``extend``
  moves the planned end.
- **Decide**: ``promote`` switches production in the caller's transaction (the active KB
  version through ``core.knowledge.versions``; the chat model / embedding model in the
  ``production_config`` table) and records the previous production for ``rollback``;
  ``rollback`` and ``stop`` end an experiment (rollback of a promoted one restores the
  previous production). Each is audited; a rollback also records an ``experiment.rolled_back``
  event.
- ``check_running_experiments`` is what the job runner calls daily: guardrails and
  significant losses roll back at once, a PROMOTE waits for an admin unless
  ``experiment_auto_promote``.

Every change takes the acting user and needs the ``manage_experiments`` right.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.answering.routing import CONFIG_KEYS, production_settings, running_experiments
from core.experiments.analysis import Comparison, compare_performance, record_comparison
from core.experiments.decision import Recommendation
from core.experiments.registry import (
    default_name,
    get_experiment,
    label,
    running_experiment,
    set_production,
    snapshot,
)
from core.knowledge.index import read_index_file
from core.knowledge.versions import activate_version, active_version, get_version
from core.platform import audit, events
from core.platform.actors import SYSTEM, Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, NotFound, ValidationError
from core.platform.models import EXPERIMENT_KINDS, EXPERIMENT_MODES, Experiment, FineTuneJob
from core.platform.statuses import (
    CandidateStatus,
    ExperimentKind,
    ExperimentMode,
    ExperimentStatus,
    FinetuneProvider,
    FinetuneStatus,
    KBVersionStatus,
)
from core.training.finetune.jobs import mark_candidate

PERMISSION = "manage_experiments"
STOP_DECISION = "STOP"  # the decision stored on an experiment stopped without a winner


# --- starting ------------------------------------------------------------------------------
def _current_production(session: Session, kind: str, settings: Settings) -> dict[str, Any]:
    st = production_settings(session, settings)
    if kind == ExperimentKind.CHAT_MODEL:
        return {"chat_model": st.chat_model}
    active = active_version(session)
    if active is None:
        raise Conflict("The knowledge base has no active version; activate one before testing a candidate "
                       "against it (`supportloop kb refresh`).")
    if kind == ExperimentKind.KB_VERSION:
        return {"kb_version_id": active.id}
    return {"embedding_model_path": st.embedding_model_path or "", "kb_version_id": active.id}


def _check_candidate(session: Session, kind: str, candidate: dict[str, Any], control: dict[str, Any],
                     settings: Settings) -> dict[str, Any]:
    if kind == ExperimentKind.CHAT_MODEL:
        model = str(candidate.get("chat_model") or "").strip()
        if not model:
            raise ValidationError("A chat_model candidate needs the model id, e.g. ft:gpt-4o-mini:acme::abc.")
        if not settings.openai_base_url:
            raise ValidationError("A chat-model experiment needs a chat API: set SUPPORTLOOP_OPENAI_BASE_URL "
                                  "(without one both arms answer extractively and nothing is tested).")
        if model == control["chat_model"]:
            raise ValidationError(f"{model!r} is already the production chat model.")
        return {"chat_model": model}
    try:
        version_id = int(candidate.get("kb_version_id"))
    except (TypeError, ValueError):
        raise ValidationError(f"A {kind} candidate needs a kb_version_id (an integer).") from None
    version = get_version(session, version_id)
    if version.status not in (KBVersionStatus.CANDIDATE, KBVersionStatus.RETIRED):
        raise Conflict(f"KB version {version.id} is {version.status}; an experiment tests a candidate or "
                       "retired version against the active one.")
    read_index_file(Path(settings.index_dir) / version.index_file, version.checksum, version_id=version.id)
    if kind == ExperimentKind.KB_VERSION:
        return {"kb_version_id": version.id}
    path = str(candidate.get("embedding_model_path") or "").strip()
    if path == control["embedding_model_path"]:
        raise ValidationError(f"The embedding model {path or '(bundled MiniLM)'!r} is already in production.")
    return {"embedding_model_path": path, "kb_version_id": version.id}


def start_experiment(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    candidate: dict[str, Any],
    actor: Actor,
    mode: str = ExperimentMode.SPLIT,
    share: float | None = None,
    days: int | None = None,
    min_users_per_arm: int | None = None,
    name: str = "",
    salt: str | None = None,
    finetune_job_id: int | None = None,
    clock: Clock | None = None,
) -> Experiment:
    """Start testing ``candidate`` against what production serves now (``manage_experiments``).

    ``candidate``: ``{"chat_model": id}``, ``{"kb_version_id": n}`` or
    ``{"embedding_model_path": folder, "kb_version_id": n}`` (a KB version built with that
    embedder). Conflict when an experiment of this kind is already running."""
    require(actor, PERMISSION)
    clock = clock or SystemClock()
    if kind not in EXPERIMENT_KINDS:
        raise ValidationError(f"Unknown experiment kind {kind!r}; use one of {', '.join(EXPERIMENT_KINDS)}.")
    if mode not in EXPERIMENT_MODES:
        raise ValidationError(f"Unknown mode {mode!r}; use split or shadow.")
    share = settings.experiment_share if share is None else float(share)
    if not 0 < share < 1:
        raise ValidationError(f"The share must be between 0 and 1 (e.g. 0.1 or 0.5), got {share}.")
    days = settings.experiment_days if days is None else int(days)
    if not 1 <= days <= settings.experiment_max_days:
        raise ValidationError(f"An experiment runs 1 to {settings.experiment_max_days} days, got {days}.")
    min_users = settings.experiment_min_users_per_arm if min_users_per_arm is None else int(min_users_per_arm)
    if min_users < 2:
        raise ValidationError(f"The minimum sample per arm must be at least 2 users, got {min_users}.")
    running = running_experiments(session, kind)
    if running:
        raise Conflict(f"Experiment {running[0].id} ({kind}) is running; promote, roll back or stop it first "
                       "(one running experiment per kind).")
    control = _current_production(session, kind, settings)
    cand = _check_candidate(session, kind, candidate or {}, control, settings)
    now = clock.now()
    exp = Experiment(
        name=(name or default_name(kind, cand, control))[:200], kind=kind, mode=mode,
        status=ExperimentStatus.RUNNING, control=control, candidate=cand, share=share,
        salt=salt or secrets.token_hex(8), min_users_per_arm=min_users, finetune_job_id=finetune_job_id,
        started_at=now, planned_end_at=now + dt.timedelta(days=days), created_by=actor.name,
    )
    session.add(exp)
    session.flush()
    audit.record(session, actor.name, "experiment.start", "experiment", exp.id, after=snapshot(exp),
                 clock=clock)
    events.record(session, "experiment.started", f"Experiment {exp.id} started: {exp.name}", clock=clock,
                  details={"experiment_id": exp.id, "kind": kind, "mode": mode, "share": share})
    return exp


def start_from_finetune(session: Session, settings: Settings, job_id: int, *, actor: Actor,
                        clock: Clock | None = None, **kwargs: Any) -> Experiment:
    """Start an experiment on a succeeded fine-tune's candidate: an OpenAI job's model as a
    chat_model candidate; a local embedding fine-tune's model folder and KB version
    (``result['model_path']``, ``result['kb_version_id']``) as an embedding_model candidate.
    The job's candidate is marked taken."""
    require(actor, PERMISSION)
    job = session.get(FineTuneJob, job_id)
    if job is None:
        raise NotFound(f"Fine-tune {job_id} does not exist; `supportloop finetune list` shows them.")
    if job.status != FinetuneStatus.SUCCEEDED or job.candidate_status != CandidateStatus.OFFERED:
        raise Conflict(f"Fine-tune {job.id} is {job.status} (candidate: {job.candidate_status}); only a "
                       "succeeded fine-tune offered as a candidate can enter an experiment.")
    result = dict(job.result or {})
    if job.provider == FinetuneProvider.OPENAI:
        kind, cand = ExperimentKind.CHAT_MODEL, {"chat_model": job.fine_tuned_model}
    else:
        kind = ExperimentKind.EMBEDDING_MODEL
        cand = {"embedding_model_path": result.get("model_path") or result.get("embedding_model_path")
                or job.fine_tuned_model, "kb_version_id": result.get("kb_version_id")}
    exp = start_experiment(session, settings, kind=kind, candidate=cand, actor=actor, clock=clock,
                           finetune_job_id=job.id, **kwargs)
    mark_candidate(session, job.id, CandidateStatus.TAKEN, actor=actor, clock=clock)
    return exp


# --- adjusting ----------------------------------------------------------------------------
def set_share(session: Session, experiment_id: int, share: float, *, actor: Actor,
              clock: Clock | None = None) -> Experiment:
    """Raise a running split experiment's share: users already in the candidate arm stay
    there (their bucket is below the old share, hence below the new one)."""
    require(actor, PERMISSION)
    clock = clock or SystemClock()
    exp = running_experiment(session, experiment_id)
    if not exp.share < share < 1:
        raise ValidationError(f"The share can only be raised (now {exp.share}, must stay below 1): "
                              "lowering it would move candidate users back to control. Stop and start "
                              "a new experiment.")
    before = {"share": exp.share}
    exp.share = float(share)
    audit.record(session, actor.name, "experiment.share", "experiment", exp.id, before=before,
                 after={"share": exp.share}, clock=clock)
    return exp


def extend(session: Session, experiment_id: int, days: int, *, actor: Actor, clock: Clock | None = None,
           settings: Settings | None = None) -> Experiment:
    """Move a running experiment's planned end ``days`` later (never past the maximum length)."""
    require(actor, PERMISSION)
    clock = clock or SystemClock()
    exp = running_experiment(session, experiment_id)
    max_days = settings.experiment_max_days if settings is not None else 14
    latest = exp.started_at + dt.timedelta(days=max_days)
    new_end = min(exp.planned_end_at + dt.timedelta(days=days), latest)
    if days < 1 or new_end <= exp.planned_end_at:
        raise ValidationError(f"Experiment {exp.id} already ends at its maximum length ({max_days} days).")
    before = {"planned_end_at": exp.planned_end_at.isoformat()}
    exp.planned_end_at = new_end
    audit.record(session, actor.name, "experiment.extend", "experiment", exp.id, before=before,
                 after={"planned_end_at": new_end.isoformat()}, clock=clock)
    return exp


# --- deciding -------------------------------------------------------------------------------
def promote(
    session: Session,
    experiment_id: int,
    settings: Settings,
    *,
    actor: Actor,
    clock: Clock | None = None,
    force: bool = False,
    reason: str = "",
) -> Experiment:
    """Switch production to the candidate in the caller's transaction (``manage_experiments``).

    Refused unless the comparison now recommends PROMOTE (``force`` overrides, e.g. for a
    shadow test the admin judged by hand). The previous production is recorded on the
    experiment for ``rollback``."""
    require(actor, PERMISSION)
    clock = clock or SystemClock()
    who = actor.name
    exp = running_experiment(session, experiment_id)
    cmp = compare_performance(session, exp.id, settings, clock=clock)
    record_comparison(exp, cmp, clock.now())
    if cmp.recommendation != Recommendation.PROMOTE and not force:
        raise Conflict(f"Experiment {exp.id} does not recommend promotion ({cmp.recommendation}: "
                       f"{cmp.reason}). Wait for more data, or pass --force to promote anyway.")
    now = clock.now()
    st = production_settings(session, settings)
    active = active_version(session)
    previous: dict[str, Any] = {"kb_version_id": active.id if active else None}
    cand = exp.candidate
    if exp.kind == ExperimentKind.CHAT_MODEL:
        previous["chat_model"] = st.chat_model
        set_production(session, "chat_model", cand["chat_model"], actor=actor, now=now,
                       experiment_id=exp.id)
    if exp.kind == ExperimentKind.EMBEDDING_MODEL:
        previous["embedding_model_path"] = st.embedding_model_path or ""
        set_production(session, "embedding_model_path", cand["embedding_model_path"], actor=actor,
                       now=now, experiment_id=exp.id)
    switch_kb = exp.kind in (ExperimentKind.KB_VERSION, ExperimentKind.EMBEDDING_MODEL)
    if switch_kb and (active is None or active.id != cand["kb_version_id"]):
        activate_version(session, cand["kb_version_id"], settings, actor=actor, clock=clock, force=True,
                         reason=f"experiment {exp.id} promoted")
    before = snapshot(exp)
    exp.status, exp.decision, exp.previous = ExperimentStatus.PROMOTED, Recommendation.PROMOTE, previous
    exp.reason = ((reason or cmp.reason)[:2000]
                  + ("" if cmp.recommendation == Recommendation.PROMOTE else " (forced)"))
    exp.confirmed_by, exp.decided_at, exp.ended_at = who, now, now
    session.flush()
    audit.record(session, who, "experiment.promote", "experiment", exp.id, before=before,
                 after={**snapshot(exp), "previous": previous, "recommendation": cmp.recommendation},
                 clock=clock)
    events.record(session, "experiment.promoted", f"Experiment {exp.id} promoted: {label(cand)}", clock=clock,
                  details={"experiment_id": exp.id, "candidate": cand, "previous": previous, "actor": who})
    return exp


def rollback(
    session: Session,
    experiment_id: int,
    settings: Settings,
    *,
    actor: Actor,
    reason: str,
    clock: Clock | None = None,
    guardrail: bool = False,
) -> Experiment:
    """End a running experiment in favour of control (everyone gets production again), or
    undo a promoted one: the recorded previous production is restored in the caller's
    transaction. Audited, with an ``experiment.rolled_back`` warning event."""
    require(actor, PERMISSION)
    clock = clock or SystemClock()
    who = actor.name
    if not reason or not reason.strip():
        raise ValidationError("Say why the experiment is rolled back (--reason).")
    exp = get_experiment(session, experiment_id)
    if exp.status not in (ExperimentStatus.RUNNING, ExperimentStatus.PROMOTED):
        raise Conflict(f"Experiment {exp.id} is {exp.status}; only a running or promoted one can be "
                       "rolled back.")
    now = clock.now()
    before = snapshot(exp)
    restored: dict[str, Any] = {}
    if exp.status == ExperimentStatus.PROMOTED:
        prev = exp.previous or {}
        for key in CONFIG_KEYS:
            if key in prev:
                set_production(session, key, prev[key], actor=actor, now=now, experiment_id=exp.id)
                restored[key] = prev[key]
        target = prev.get("kb_version_id")
        active = active_version(session)
        if target is not None and (active is None or active.id != target):
            activate_version(session, target, settings, actor=actor, clock=clock, force=True,
                             reason=f"experiment {exp.id} rolled back")
            restored["kb_version_id"] = target
    else:
        exp.ended_at = now
        exp.decided_at = now
    exp.status, exp.decision = ExperimentStatus.ROLLED_BACK, Recommendation.ROLLBACK
    exp.reason = reason.strip()[:2000]
    exp.confirmed_by = who
    session.flush()
    audit.record(session, who, "experiment.rollback", "experiment", exp.id, before=before,
                 after={**snapshot(exp), "restored": restored, "guardrail": guardrail}, clock=clock)
    events.record(session, "experiment.rolled_back",
                  f"Experiment {exp.id} rolled back: {reason.strip()[:200]}", severity="warning", clock=clock,
                  details={"experiment_id": exp.id, "guardrail": guardrail, "restored": restored,
                           "actor": who})
    return exp


def stop(session: Session, experiment_id: int, *, actor: Actor, reason: str,
         clock: Clock | None = None) -> Experiment:
    """End a running experiment without a decision: production stays as it is."""
    require(actor, PERMISSION)
    clock = clock or SystemClock()
    if not reason or not reason.strip():
        raise ValidationError("Say why the experiment is stopped (--reason).")
    exp = running_experiment(session, experiment_id)
    before = snapshot(exp)
    now = clock.now()
    exp.status, exp.decision, exp.reason = ExperimentStatus.STOPPED, STOP_DECISION, reason.strip()[:2000]
    exp.confirmed_by, exp.decided_at, exp.ended_at = actor.name, now, now
    session.flush()
    audit.record(session, actor.name, "experiment.stop", "experiment", exp.id, before=before,
                 after=snapshot(exp), clock=clock)
    events.record(session, "experiment.stopped", f"Experiment {exp.id} stopped: {reason.strip()[:200]}",
                  clock=clock, details={"experiment_id": exp.id, "actor": actor.name})
    return exp


# --- the runner's daily look ----------------------------------------------------------------
def check_running_experiments(session: Session, settings: Settings, clock: Clock | None = None,
                              actor: Actor = SYSTEM) -> list[dict[str, Any]]:
    """The runner's daily look at every running experiment:

    - ROLLBACK (a guardrail, or a primary metric significantly worse): rolled back now;
    - PROMOTE: promoted when ``experiment_auto_promote`` (split mode only), else an
      ``experiment.promote_recommended`` event asks an admin to confirm;
    - CONTINUE_TESTING past the planned end: extended up to ``experiment_max_days`` when the
      estimate says a decision is reachable by then, else stopped as inconclusive.
    """
    require(actor, PERMISSION)
    clock = clock or SystemClock()
    out = []
    for exp in running_experiments(session):
        exp_id = exp.id
        try:
            with session.begin_nested():  # one failing experiment does not block the others
                out.append(_check_one(session, exp, settings, clock, actor))
        except Exception as exc:  # noqa: BLE001 - recorded, the next experiment is checked
            events.record(session, "experiment.check_failed",
                          f"Experiment {exp_id}: check failed: {exc}"[:300], severity="error", clock=clock,
                          details={"experiment_id": exp_id, "error": f"{type(exc).__name__}: {exc}"[:500]})
            out.append({"experiment_id": exp_id, "recommendation": None, "reason": str(exc)[:500],
                        "action": "failed", "days_needed": None})
    session.flush()
    return out


def _check_one(session: Session, exp: Experiment, settings: Settings, clock: Clock,
               actor: Actor) -> dict[str, Any]:
    """check_running_experiments for one experiment."""
    now = clock.now()
    previous = exp.recommendation
    cmp = compare_performance(session, exp.id, settings, clock=clock)
    record_comparison(exp, cmp, now)
    action = "none"
    if cmp.recommendation == Recommendation.ROLLBACK:
        rollback(session, exp.id, settings, actor=actor, reason=cmp.reason, clock=clock,
                 guardrail=cmp.guardrail)
        action = "rolled_back"
    elif cmp.recommendation == Recommendation.PROMOTE:
        action = _promote_or_ask(session, exp, settings, clock, actor, cmp, previous)
    elif now >= exp.planned_end_at:
        action = _extend_or_stop(session, exp, settings, clock, actor, cmp, now)
    return {"experiment_id": exp.id, "recommendation": cmp.recommendation, "reason": cmp.reason,
            "action": action, "days_needed": cmp.days_needed}


def _promote_or_ask(session: Session, exp: Experiment, settings: Settings, clock: Clock, actor: Actor,
                    cmp: Comparison, previous: str | None) -> str:
    """A PROMOTE recommendation: promoted when auto-promotion is on (split mode), else an admin
    is asked once (the recommendation's first look)."""
    if settings.experiment_auto_promote and exp.mode == ExperimentMode.SPLIT:
        auto = dataclasses.replace(actor, name=f"{actor.name} (auto-promote)")
        promote(session, exp.id, settings, actor=auto, clock=clock)
        return "promoted"
    if previous != Recommendation.PROMOTE:
        events.record(session, "experiment.promote_recommended",
                      f"Experiment {exp.id} recommends promoting {label(exp.candidate)}; "
                      f"confirm with `supportloop experiment promote {exp.id}`", clock=clock,
                      details={"experiment_id": exp.id, "reason": cmp.reason})
    return "awaiting_confirmation"


def _extend_or_stop(session: Session, exp: Experiment, settings: Settings, clock: Clock, actor: Actor,
                    cmp: Comparison, now: dt.datetime) -> str:
    """An undecided experiment at its planned end: extended when a decision is reachable
    within the maximum length, else stopped as inconclusive."""
    latest = exp.started_at + dt.timedelta(days=settings.experiment_max_days)
    reachable = cmp.days_needed is not None and now + dt.timedelta(days=cmp.days_needed) <= latest
    if reachable and exp.planned_end_at < latest:
        wanted = now + dt.timedelta(days=cmp.days_needed) - exp.planned_end_at
        more = max(1, math.ceil(wanted.total_seconds() / 86400))
        extend(session, exp.id, more, actor=actor, clock=clock, settings=settings)
        events.record(session, "experiment.extended",
                      f"Experiment {exp.id} extended to {exp.planned_end_at:%Y-%m-%d}: about "
                      f"{cmp.days_needed:g} more days needed", clock=clock,
                      details={"experiment_id": exp.id, "days_needed": cmp.days_needed})
        return "extended"
    why = "inconclusive at its planned end"
    if cmp.days_needed:
        why += f"; a decision would need about {cmp.days_needed:g} more days"
    stop(session, exp.id, actor=actor, reason=why, clock=clock)
    events.record(session, "experiment.inconclusive", f"Experiment {exp.id} stopped: {why}",
                  severity="warning", clock=clock, details={"experiment_id": exp.id})
    return "stopped"
