"""Experiments: a candidate (chat model, KB version or embedding model) against production.

- **Start** (``start_experiment`` / ``start_from_finetune``): control is what production
  serves now (pinned: a weekly KB refresh does not move it), the candidate what is tested;
  mode ``split`` (users hashed into arms) or ``shadow`` (the candidate answers the same
  questions too; its answer is stored, never sent); a share (default 10 %), a salt, a planned
  end (default 7 days, up to ``experiment_max_days``) and a minimum sample per arm. At most one
  running experiment per kind (the database enforces it).
- **Assignment** (``bucket`` / ``route``): md5("salt:user") -> a number in [0, 1); the user
  is in the candidate arm when it is below the share. The same user always gets the same arm,
  and raising the share (``set_share``) keeps every candidate user in the candidate arm.
- **Answering** (``answer_for_user`` + ``record_answer``): the responder answers with the
  user's arm (and, in shadow mode, the candidate answers too); the stored message carries
  ``experiment_id`` and ``arm``, one ``experiment_exposure`` row per experiment, and one
  ``shadow_answer`` row per shadow answer.
- **Comparison** (``compare_performance``): per-arm containment, conversion, CSAT, confidence,
  error rate, response time and cost with intervals, always-valid tests, the composite with a
  bootstrap interval, the recommendation (``core.experiments.stats.decide``) and the days a
  decision still needs at the current traffic.
- **Decisions**: ``promote`` switches production in the caller's transaction (the active KB
  version through ``core.knowledge.versions``; the chat model / embedding model in the
  ``production_config`` table) and records the previous production for ``rollback``;
  ``rollback`` and ``stop`` end an experiment (rollback of a promoted one restores the
  previous production). Each is audited; a rollback also records an ``experiment.rolled_back``
  event. ``check_running_experiments`` is what the job runner calls daily: guardrails and
  significant losses roll back at once, a PROMOTE waits for an admin unless
  ``experiment_auto_promote``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import json
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.answering import responder
from core.experiments import stats
from core.platform import audit, events
from core.platform.clock import Clock, SystemClock
from core.platform.errors import Conflict, NotFound, ValidationError
from core.platform.models import (
    EXPERIMENT_KINDS,
    EXPERIMENT_MODES,
    Conversation,
    ConversationOutcome,
    Experiment,
    ExperimentExposure,
    Message,
    ProductionConfig,
    ReviewItem,
    ShadowAnswer,
)

PROMOTE, ROLLBACK, CONTINUE = stats.PROMOTE, stats.ROLLBACK, stats.CONTINUE
CONFIG_KEYS = ("chat_model", "embedding_model_path")
SAME_ANSWER_SIMILARITY = 0.6
_IN_BATCH = 500


# --- production configuration --------------------------------------------------------------
def production_value(session: Session, key: str) -> str | None:
    """The stored production value of ``key`` (chat_model, embedding_model_path), or None
    when production still follows the settings."""
    if key not in CONFIG_KEYS:
        raise ValidationError(f"Unknown production setting {key!r}; use one of {', '.join(CONFIG_KEYS)}.")
    row = session.get(ProductionConfig, key)
    return row.value if row is not None else None


def production_settings(session: Session, settings):
    """``settings`` with what production serves applied: the chat model and embedding model
    an experiment promoted (stored in ``production_config``) override the environment."""
    update = {}
    for key in CONFIG_KEYS:
        value = production_value(session, key)
        if value is not None and value != getattr(settings, key):
            update[key] = value
    return settings.model_copy(update=update) if update else settings


def _set_production(session: Session, key: str, value: str, *, actor: str, now: dt.datetime,
                    experiment_id: int | None) -> None:
    row = session.get(ProductionConfig, key)
    if row is None:
        session.add(ProductionConfig(key=key, value=value, updated_by=actor, updated_at=now,
                                     experiment_id=experiment_id))
    else:
        row.value, row.updated_by, row.updated_at, row.experiment_id = value, actor, now, experiment_id
    session.flush()


# --- assignment ----------------------------------------------------------------------------
def bucket(salt: str, user_id: str) -> float:
    """The user's fixed position in [0, 1) for this salt: md5("salt:user") as a fraction."""
    digest = hashlib.md5(f"{salt}:{user_id}".encode()).hexdigest()  # noqa: S324 - not for security
    return int(digest[:15], 16) / float(16**15)


def arm_of(experiment: Experiment, user_id: str) -> str:
    """``candidate`` when the user's bucket is below the share, else ``control``."""
    return "candidate" if bucket(experiment.salt, user_id) < experiment.share else "control"


@dataclass
class Assignment:
    """Where one user's answer comes from in one running experiment. In shadow mode ``arm``
    is always ``control`` (what is sent) and ``shadow`` says whether the candidate answers too."""

    experiment_id: int
    kind: str
    mode: str
    arm: str
    bucket: float
    target: dict[str, Any]  # what answers the sent message (control or candidate)
    shadow: bool = False
    shadow_target: dict[str, Any] | None = None


def running_experiments(session: Session, kind: str | None = None) -> list[Experiment]:
    """Running experiments (of ``kind``), oldest first."""
    q = select(Experiment).where(Experiment.status == "running").order_by(Experiment.id)
    if kind is not None:
        q = q.where(Experiment.kind == kind)
    return list(session.scalars(q))


def route(session: Session, user_id: str, settings=None, kind: str | None = None) -> list[Assignment]:
    """The user's assignment in every running experiment (of ``kind``): empty when none runs."""
    if not user_id:
        raise ValidationError("Routing needs a user id (the chat session id, phone number, e-mail...).")
    out = []
    for exp in running_experiments(session, kind):
        b = bucket(exp.salt, user_id)
        in_candidate = b < exp.share
        if exp.mode == "split":
            arm = "candidate" if in_candidate else "control"
            out.append(Assignment(exp.id, exp.kind, exp.mode, arm, b,
                                  dict(exp.candidate if in_candidate else exp.control)))
        else:
            out.append(Assignment(exp.id, exp.kind, exp.mode, "control", b, dict(exp.control),
                                  shadow=in_candidate,
                                  shadow_target=dict(exp.candidate) if in_candidate else None))
    return out


# --- answering through an experiment -------------------------------------------------------
@dataclass
class ShadowResult:
    experiment_id: int
    answer: responder.Answer | None
    error: str | None = None


@dataclass
class RoutedAnswer(responder.Answer):
    """The sent answer (every ``responder.Answer`` field) plus the user's experiment
    assignments and the shadow answers to store with it."""

    user_key: str = ""
    assignments: list[Assignment] = field(default_factory=list)
    shadows: list[ShadowResult] = field(default_factory=list)
    candidate_failed: dict[int, str] = field(default_factory=dict)  # experiment id -> error

    def as_dict(self) -> dict:
        """The responder's JSON plus the user's arms (shadow answers are left out)."""
        d = {k: v for k, v in super().as_dict().items() if k not in ("assignments", "shadows")}
        d["experiments"] = [{"experiment_id": a.experiment_id, "arm": a.arm, "shadow": a.shadow}
                            for a in self.assignments]
        return d


class _PinnedIndex:
    """An index source that always serves one KB version (duck-types ``IndexCache.active``)."""

    def __init__(self, cache, version):
        self.cache, self.version = cache, version

    def active(self, session, settings):
        return self.cache.get(self.version, settings)


_PINNED: dict[tuple, Any] = {}
_PINNED_LOCK = threading.Lock()


def _pinned_index(session: Session, version_id: int, settings) -> _PinnedIndex:
    from core.knowledge.index import IndexCache
    from core.knowledge.versions import get_version

    version = get_version(session, version_id)
    key = (str(settings.index_dir), version_id)
    with _PINNED_LOCK:
        cache = _PINNED.get(key)
        if cache is None:
            if len(_PINNED) >= 8:
                _PINNED.pop(next(iter(_PINNED)))
            cache = _PINNED[key] = IndexCache()
    return _PinnedIndex(cache, version)


def default_embedder_loader(settings) -> Callable[[str], Any]:
    """Loads (once per process) the embedder of a model folder ('' = the bundled MiniLM)."""
    from core.platform.embeddings import get_embedder

    return lambda path: get_embedder(settings.model_copy(update={"embedding_model_path": path}))


def production_embedder(session: Session, settings, *, base: Callable[[], Any] | None = None,
                        loader: Callable[[str], Any] | None = None):
    """The embedder production serves: the embedding model an experiment promoted (the
    ``production_config`` row) when there is one, else the model of the settings
    (``embedding_model_path``). ``base()`` gives the settings' embedder when the caller already
    holds it (default ``core.platform.embeddings.get_embedder(settings)``); ``loader(path)`` loads a
    promoted one (default ``default_embedder_loader``). Models are loaded once per process, so
    calling this per request or per job run only costs one small query: a promotion or a
    rollback is followed without a restart. The job runner, the API's enrichment, the weekly KB
    refresh and the ``kb`` / ``enrich`` commands all get their embedder here."""
    path = production_value(session, "embedding_model_path")
    if path is None or path == (settings.embedding_model_path or ""):
        if base is not None:
            return base()
        from core.platform.embeddings import get_embedder

        return get_embedder(settings)
    return (loader or default_embedder_loader(settings))(path)


def _answer_with(session: Session, question: str, target: dict[str, Any], *, embedder, embedder_loader,
                 settings, index_cache, clock, intent) -> responder.Answer:
    """The responder's answer with a target's chat model, embedding model and KB version."""
    st = settings
    if target.get("chat_model") and target["chat_model"] != settings.chat_model:
        st = settings.model_copy(update={"chat_model": target["chat_model"]})
    emb = embedder
    path = target.get("embedding_model_path")
    if path is not None and path != (settings.embedding_model_path or ""):
        emb = (embedder_loader or default_embedder_loader(settings))(path)
    cache = index_cache
    version_id = target.get("kb_version_id")
    if version_id is not None:
        from core.knowledge.versions import active_version

        active = active_version(session)
        if active is None or active.id != version_id:
            cache = _pinned_index(session, version_id, settings)
    return responder.answer(session, question, embedder=emb, settings=st, index_cache=cache, clock=clock,
                            intent=intent)


def answer_for_user(
    session: Session,
    question: str,
    *,
    user_id: str,
    embedder,
    settings,
    index_cache=None,
    clock: Clock | None = None,
    intent: str | None = None,
    embedder_loader: Callable[[str], Any] | None = None,
) -> RoutedAnswer:
    """``responder.answer`` routed through the running experiments: the drop-in the chat API
    calls instead of ``responder.answer`` (then ``record_answer`` instead of
    ``responder.record_answer``).

    Production settings (a promoted chat / embedding model) apply to everyone; a user in a
    split experiment's candidate arm is answered by the candidate, in the control arm by the
    pinned control. When the candidate fails (missing index, model error) the user gets the
    control's answer and the failure counts against the candidate (its error rate). In shadow
    mode the candidate also answers (users in the share) and its answer is kept for
    ``record_answer`` to store. ``embedder`` is the embedder of ``settings.embedding_model_path``;
    ``embedder_loader(path)`` loads others (default: ``core.platform.embeddings.get_embedder``).
    """
    st = production_settings(session, settings)
    if st.embedding_model_path != settings.embedding_model_path:
        embedder = (embedder_loader or default_embedder_loader(settings))(st.embedding_model_path)
    assignments = route(session, user_id, st)
    target: dict[str, Any] = {}
    for a in assignments:
        target.update(a.target)
    kw = dict(embedder=embedder, embedder_loader=embedder_loader, settings=st, index_cache=index_cache,
              clock=clock, intent=intent)
    failed: dict[int, str] = {}
    try:
        ans = _answer_with(session, question, target, **kw)
    except Exception as exc:  # noqa: BLE001 - a failing candidate must not fail the customer
        cand = [a for a in assignments if a.arm == "candidate"]
        if not cand:
            raise
        for a in cand:
            failed[a.experiment_id] = f"{type(exc).__name__}: {exc}"[:500]
        safe = {}
        for a in assignments:
            safe.update(a.target if a.arm == "control" else _experiment_control(session, a.experiment_id))
        ans = _answer_with(session, question, safe, **kw)
    for a in assignments:
        if a.arm == "candidate" and ans.error and a.experiment_id not in failed:
            failed[a.experiment_id] = ans.error
    shadows = []
    for a in assignments:
        if not a.shadow:
            continue
        shadow_target = {**target, **(a.shadow_target or {})}
        try:
            shadow = _answer_with(session, question, shadow_target, **kw)
            shadows.append(ShadowResult(a.experiment_id, shadow))
        except Exception as exc:  # noqa: BLE001 - a shadow never affects the customer
            shadows.append(ShadowResult(a.experiment_id, None, f"{type(exc).__name__}: {exc}"[:500]))
    fields = {f.name: getattr(ans, f.name) for f in dataclasses.fields(responder.Answer)}
    return RoutedAnswer(**fields, user_key=user_id, assignments=assignments, shadows=shadows,
                        candidate_failed=failed)


def _experiment_control(session: Session, experiment_id: int) -> dict[str, Any]:
    exp = session.get(Experiment, experiment_id)
    return dict(exp.control) if exp is not None else {}


def text_similarity(a: str, b: str) -> float:
    """0..1 similarity of two answers (difflib ratio on lower-cased words)."""
    wa, wb = (a or "").lower().split(), (b or "").lower().split()
    if not wa and not wb:
        return 1.0
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def record_answer(
    session: Session,
    conversation_id: int,
    answer: responder.Answer,
    *,
    clock: Clock | None = None,
    scrubber=None,
    escalate_conversation: bool = True,
    settings=None,
    enricher=None,
) -> Message:
    """``responder.record_answer`` plus the experiment bookkeeping of a :class:`RoutedAnswer`:
    ``message.experiment_id`` / ``arm`` (the first experiment), one exposure row per
    experiment (with whether the candidate failed, also recorded as an
    ``experiment.candidate_failed`` event) and the shadow answers (text redacted with
    ``scrubber``). A plain ``Answer`` is recorded as the responder does."""
    clock = clock or SystemClock()
    msg = responder.record_answer(session, conversation_id, answer, clock=clock, scrubber=scrubber,
                                  escalate_conversation=escalate_conversation, settings=settings,
                                  enricher=enricher)
    if not isinstance(answer, RoutedAnswer) or not answer.assignments:
        return msg
    now = msg.created_at or clock.now()
    first = answer.assignments[0]
    msg.experiment_id, msg.arm = first.experiment_id, first.arm
    for a in answer.assignments:
        err = a.experiment_id in answer.candidate_failed
        session.add(ExperimentExposure(experiment_id=a.experiment_id, message_id=msg.id,
                                       conversation_id=conversation_id, user_key=answer.user_key[:200],
                                       arm=a.arm, error=err, created_at=now))
        if err:
            events.record(session, "experiment.candidate_failed",
                          f"Experiment {a.experiment_id}: the candidate failed, control answered",
                          severity="warning", clock=clock,
                          details={"experiment_id": a.experiment_id, "message_id": msg.id,
                                   "error": answer.candidate_failed[a.experiment_id]})
    sent_first = answer.used_chunk_ids[0] if answer.used_chunk_ids else None
    for s in answer.shadows:
        sa = s.answer
        if sa is None:
            session.add(ShadowAnswer(experiment_id=s.experiment_id, message_id=msg.id,
                                     user_key=answer.user_key[:200], text="", escalated=False,
                                     used_chunk_ids=[], error=s.error, created_at=now))
            continue
        text = sa.text if scrubber is None else scrubber.scrub(sa.text).text
        shadow_first = sa.used_chunk_ids[0] if sa.used_chunk_ids else None
        session.add(ShadowAnswer(
            experiment_id=s.experiment_id, message_id=msg.id, user_key=answer.user_key[:200], text=text,
            confidence=sa.confidence, escalated=sa.escalated, used_chunk_ids=list(sa.used_chunk_ids),
            kb_version_id=sa.kb_version_id, model_used=sa.model_used, latency_ms=sa.latency_ms,
            tokens_in=sa.tokens_in, tokens_out=sa.tokens_out, error=sa.error,
            same_chunk=(sent_first == shadow_first) if (sent_first or shadow_first) else None,
            similarity=round(text_similarity(sa.text, answer.text), 4), created_at=now,
        ))
    session.flush()
    return msg


# --- starting and listing ------------------------------------------------------------------
def get_experiment(session: Session, experiment_id: int) -> Experiment:
    exp = session.get(Experiment, experiment_id)
    if exp is None:
        raise NotFound(f"Experiment {experiment_id} does not exist; `supportloop experiment status` "
                       "lists them.")
    return exp


def list_experiments(session: Session, limit: int = 50) -> list[Experiment]:
    """Experiments, newest first."""
    return list(session.scalars(select(Experiment).order_by(Experiment.id.desc()).limit(limit)))


def _require_admin(session: Session, actor) -> str:
    from core.training.datasets import require_admin

    return require_admin(session, actor, "manage_experiments")


def _current_production(session: Session, kind: str, settings) -> dict[str, Any]:
    from core.knowledge.versions import active_version

    st = production_settings(session, settings)
    if kind == "chat_model":
        return {"chat_model": st.chat_model}
    active = active_version(session)
    if active is None:
        raise Conflict("The knowledge base has no active version; activate one before testing a candidate "
                       "against it (`supportloop kb refresh`).")
    if kind == "kb_version":
        return {"kb_version_id": active.id}
    return {"embedding_model_path": st.embedding_model_path or "", "kb_version_id": active.id}


def _check_candidate(session: Session, kind: str, candidate: dict[str, Any], control: dict[str, Any],
                     settings) -> dict[str, Any]:
    from pathlib import Path

    from core.knowledge.index import read_index_file
    from core.knowledge.versions import get_version

    if kind == "chat_model":
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
    if version.status not in ("candidate", "retired"):
        raise Conflict(f"KB version {version.id} is {version.status}; an experiment tests a candidate or "
                       "retired version against the active one.")
    read_index_file(Path(settings.index_dir) / version.index_file, version.checksum, version_id=version.id)
    if kind == "kb_version":
        return {"kb_version_id": version.id}
    path = str(candidate.get("embedding_model_path") or "").strip()
    if path == control["embedding_model_path"]:
        raise ValidationError(f"The embedding model {path or '(bundled MiniLM)'!r} is already in production.")
    return {"embedding_model_path": path, "kb_version_id": version.id}


def start_experiment(
    session: Session,
    settings,
    *,
    kind: str,
    candidate: dict[str, Any],
    actor,
    mode: str = "split",
    share: float | None = None,
    days: int | None = None,
    min_users_per_arm: int | None = None,
    name: str = "",
    salt: str | None = None,
    finetune_job_id: int | None = None,
    clock: Clock | None = None,
) -> Experiment:
    """Start testing ``candidate`` against what production serves now (admin only).

    ``candidate``: ``{"chat_model": id}``, ``{"kb_version_id": n}`` or
    ``{"embedding_model_path": folder, "kb_version_id": n}`` (a KB version built with that
    embedder). Conflict when an experiment of this kind is already running."""
    clock = clock or SystemClock()
    who = _require_admin(session, actor)
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
        name=(name or f"{kind}: {label(cand)} vs {label(control)}")[:200], kind=kind, mode=mode,
        status="running", control=control, candidate=cand, share=share,
        salt=salt or secrets.token_hex(8), min_users_per_arm=min_users, finetune_job_id=finetune_job_id,
        started_at=now, planned_end_at=now + dt.timedelta(days=days), created_by=who,
    )
    session.add(exp)
    session.flush()
    audit.record(session, who, "experiment.start", "experiment", exp.id, after=_snapshot(exp), clock=clock)
    events.record(session, "experiment.started", f"Experiment {exp.id} started: {exp.name}", clock=clock,
                  details={"experiment_id": exp.id, "kind": kind, "mode": mode, "share": share})
    return exp


def start_from_finetune(session: Session, settings, job_id: int, *, actor, clock: Clock | None = None,
                        **kwargs: Any) -> Experiment:
    """Start an experiment on a succeeded fine-tune's candidate: an OpenAI job's model as a
    chat_model candidate; a local embedding fine-tune's model folder and KB version
    (``result['model_path']``, ``result['kb_version_id']``) as an embedding_model candidate.
    The job's candidate is marked taken."""
    from core.platform.models import FineTuneJob

    job = session.get(FineTuneJob, job_id)
    if job is None:
        raise NotFound(f"Fine-tune {job_id} does not exist; `supportloop finetune list` shows them.")
    if job.status != "succeeded" or job.candidate_status != "offered":
        raise Conflict(f"Fine-tune {job.id} is {job.status} (candidate: {job.candidate_status}); only a "
                       "succeeded fine-tune offered as a candidate can enter an experiment.")
    result = dict(job.result or {})
    if job.provider == "openai":
        kind, cand = "chat_model", {"chat_model": job.fine_tuned_model}
    else:
        kind = "embedding_model"
        cand = {"embedding_model_path": result.get("model_path") or result.get("embedding_model_path")
                or job.fine_tuned_model, "kb_version_id": result.get("kb_version_id")}
    exp = start_experiment(session, settings, kind=kind, candidate=cand, actor=actor, clock=clock,
                           finetune_job_id=job.id, **kwargs)
    from core.training.finetune import mark_candidate

    mark_candidate(session, job.id, "taken", actor=exp.created_by, clock=clock)
    return exp


def set_share(session: Session, experiment_id: int, share: float, *, actor,
              clock: Clock | None = None) -> Experiment:
    """Raise a running split experiment's share: users already in the candidate arm stay
    there (their bucket is below the old share, hence below the new one)."""
    clock = clock or SystemClock()
    who = _require_admin(session, actor)
    exp = _running(session, experiment_id)
    if not exp.share < share < 1:
        raise ValidationError(f"The share can only be raised (now {exp.share}, must stay below 1): "
                              "lowering it would move candidate users back to control. Stop and start "
                              "a new experiment.")
    before = {"share": exp.share}
    exp.share = float(share)
    audit.record(session, who, "experiment.share", "experiment", exp.id, before=before,
                 after={"share": exp.share}, clock=clock)
    return exp


def extend(session: Session, experiment_id: int, days: int, *, actor, clock: Clock | None = None,
           settings=None, system: bool = False) -> Experiment:
    """Move a running experiment's planned end ``days`` later (never past the maximum length)."""
    clock = clock or SystemClock()
    who = actor if system else _require_admin(session, actor)
    exp = _running(session, experiment_id)
    max_days = settings.experiment_max_days if settings is not None else 14
    latest = exp.started_at + dt.timedelta(days=max_days)
    new_end = min(exp.planned_end_at + dt.timedelta(days=days), latest)
    if days < 1 or new_end <= exp.planned_end_at:
        raise ValidationError(f"Experiment {exp.id} already ends at its maximum length ({max_days} days).")
    before = {"planned_end_at": exp.planned_end_at.isoformat()}
    exp.planned_end_at = new_end
    audit.record(session, who, "experiment.extend", "experiment", exp.id, before=before,
                 after={"planned_end_at": new_end.isoformat()}, clock=clock)
    return exp


def _running(session: Session, experiment_id: int) -> Experiment:
    exp = get_experiment(session, experiment_id)
    if exp.status != "running":
        raise Conflict(f"Experiment {exp.id} is {exp.status}, not running.")
    return exp


def label(target: dict[str, Any]) -> str:
    """A short human label of a target, e.g. "KB v3" or "model gpt-4o-mini"."""
    parts = []
    if "chat_model" in target:
        parts.append(f"model {target['chat_model']}")
    if "embedding_model_path" in target:
        parts.append(f"embedder {target['embedding_model_path'] or 'bundled MiniLM'}")
    if "kb_version_id" in target:
        parts.append(f"KB v{target['kb_version_id']}")
    return ", ".join(parts) or "production"


def _snapshot(exp: Experiment) -> dict[str, Any]:
    return {"status": exp.status, "kind": exp.kind, "mode": exp.mode, "share": exp.share,
            "control": exp.control, "candidate": exp.candidate, "decision": exp.decision}


# --- collecting the arms' data -------------------------------------------------------------
def _chunks(ids: list[int]):
    for i in range(0, len(ids), _IN_BATCH):
        yield ids[i : i + _IN_BATCH]


@dataclass
class _Conv:
    user: str
    arm: str
    answers: int = 0
    conf_sum: float = 0.0
    errors: int = 0


def _window(exp: Experiment, days: int | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    end = min(now, exp.ended_at) if exp.ended_at else now
    start = exp.started_at if days is None else max(exp.started_at, end - dt.timedelta(days=days))
    return start, end


def arm_data(session: Session, exp: Experiment, since: dt.datetime, until: dt.datetime
             ) -> tuple[stats.ArmData, stats.ArmData, dict[str, Any]]:
    """Per-user arrays of each arm from the exposures in [since, until]. A conversation
    belongs to the arm of its first exposure, a user to the arm of their first conversation;
    conversations in the other arm (after a share change) are left out and counted."""
    rows = session.execute(
        select(ExperimentExposure.conversation_id, ExperimentExposure.user_key, ExperimentExposure.arm,
               ExperimentExposure.error, Message.confidence)
        .join(Message, Message.id == ExperimentExposure.message_id)
        .where(ExperimentExposure.experiment_id == exp.id, ExperimentExposure.created_at >= since,
               ExperimentExposure.created_at <= until)
        .order_by(ExperimentExposure.id)
    ).all()
    convs: dict[int, _Conv] = {}
    user_arm: dict[str, str] = {}
    for cid, user, arm, err, conf in rows:
        c = convs.get(cid)
        if c is None:
            c = convs[cid] = _Conv(user, arm)
            user_arm.setdefault(user, arm)
        c.answers += 1
        c.conf_sum += float(conf or 0.0)
        c.errors += int(bool(err))
    crossovers = sum(1 for c in convs.values() if user_arm[c.user] != c.arm)
    per_user: dict[str, dict[str, float]] = {}
    ids = sorted(convs)
    for part in _chunks(ids):
        q = (select(Conversation.id, Conversation.status, Conversation.escalated_at,
                    ConversationOutcome.booking_converted, ConversationOutcome.csat,
                    ConversationOutcome.first_response_time_seconds, ConversationOutcome.total_cost_usd)
             .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
             .where(Conversation.id.in_(part)))
        for cid, status, esc_at, booked, csat, frt, cost in session.execute(q):
            c = convs[cid]
            if user_arm[c.user] != c.arm:
                continue
            u = per_user.setdefault(c.user, {"arm": c.arm})
            closed = status == "closed"
            u["conversations"] = u.get("conversations", 0) + 1
            u["closed"] = u.get("closed", 0) + int(closed)
            u["contained"] = u.get("contained", 0) + int(closed and esc_at is None)
            u["bookings"] = u.get("bookings", 0) + int(bool(booked))
            if csat is not None:
                u["csat_sum"] = u.get("csat_sum", 0) + csat
                u["csat_count"] = u.get("csat_count", 0) + 1
            u["conf_sum"] = u.get("conf_sum", 0) + c.conf_sum
            u["answers"] = u.get("answers", 0) + c.answers
            u["errors"] = u.get("errors", 0) + c.errors
            if frt is not None:
                u["frt_sum"] = u.get("frt_sum", 0) + frt
                u["frt_count"] = u.get("frt_count", 0) + 1
            u["cost_sum"] = u.get("cost_sum", 0) + float(cost or 0.0)
    control = stats.ArmData.from_rows([u for u in per_user.values() if u["arm"] == "control"])
    candidate = stats.ArmData.from_rows([u for u in per_user.values() if u["arm"] == "candidate"])
    return control, candidate, {"crossover_conversations": crossovers}


# --- shadow comparison ---------------------------------------------------------------------
def shadow_report(session: Session, exp: Experiment, since: dt.datetime, until: dt.datetime,
                  cfg: stats.StatsConfig) -> dict[str, Any]:
    """Shadow answers against the answers sent for the same questions (same first chunk, text
    similarity, escalation, confidence; paired per user) and against later human judgement of
    the sent answers in the review queue (approved / edited / rejected)."""
    rows = session.execute(
        select(ShadowAnswer, Message)
        .join(Message, Message.id == ShadowAnswer.message_id)
        .where(ShadowAnswer.experiment_id == exp.id, ShadowAnswer.created_at >= since,
               ShadowAnswer.created_at <= until)
        .order_by(ShadowAnswer.id)
    ).all()
    n = len(rows)
    per_user: dict[str, dict[str, list[float]]] = {}
    errors = same = sim_n = 0
    sim_sum = 0.0
    latency_c, latency_t = [], []
    for sh, msg in rows:
        if sh.error and not sh.text:
            errors += 1
            continue
        u = per_user.setdefault(sh.user_key, {"ans_c": [], "ans_t": [], "conf_c": [], "conf_t": []})
        sent_escalated = msg.redacted_content.strip() == responder.ESCALATION_TEXT
        u["ans_c"].append(0.0 if sent_escalated else 1.0)
        u["ans_t"].append(0.0 if sh.escalated else 1.0)
        u["conf_c"].append(float(msg.confidence or 0.0))
        u["conf_t"].append(float(sh.confidence or 0.0))
        same += int(bool(sh.same_chunk))
        if sh.similarity is not None:
            sim_sum += sh.similarity
            sim_n += 1
        if msg.latency_ms is not None and sh.latency_ms is not None:
            latency_c.append(msg.latency_ms)
            latency_t.append(sh.latency_ms)
    users = list(per_user.values())

    def arr(key: str) -> np.ndarray:
        return np.array([float(np.mean(u[key])) for u in users], dtype=float)

    answered = stats.paired_test("answered", arr("ans_c"), arr("ans_t"), tau=cfg.mde, alpha=cfg.alpha)
    confidence = stats.paired_test("confidence", arr("conf_c"), arr("conf_t"), tau=cfg.mde, alpha=cfg.alpha)
    judged = _judgement(session, [(sh, msg) for sh, msg in rows if sh.text])
    return {
        "shadow_answers": n, "users": len(users), "errors": errors,
        "error_rate": (errors / n) if n else None,
        "same_chunk_rate": (same / (n - errors)) if n - errors else None,
        "avg_similarity": (sim_sum / sim_n) if sim_n else None,
        "answered": dataclasses.asdict(answered), "confidence": dataclasses.asdict(confidence),
        "avg_latency_ms": {"control": float(np.mean(latency_c)) if latency_c else None,
                           "candidate": float(np.mean(latency_t)) if latency_t else None},
        "judgement": judged,
    }


def _judgement(session: Session, pairs: list[tuple[ShadowAnswer, Message]]) -> dict[str, Any]:
    """How shadow answers fare against the review queue's verdicts on the sent answers:
    approved -> the shadow agrees (same chunk or similar text) is a win; edited -> the shadow
    is closer to the admin's edit than the sent answer was; rejected -> the shadow differs
    (or hands over) is a win."""
    if not pairs:
        return {"judged": 0, "wins": 0, "losses": 0, "by_verdict": {}}
    ids = [m.id for _, m in pairs]
    verdicts: dict[int, str] = {}
    for part in _chunks(ids):
        for mid, status in session.execute(
            select(ReviewItem.message_id, ReviewItem.status)
            .where(ReviewItem.message_id.in_(part), ReviewItem.status.in_(("approved", "edited", "rejected")))
        ):
            verdicts[mid] = status
    wins = losses = 0
    by: dict[str, dict[str, int]] = {}
    for sh, msg in pairs:
        v = verdicts.get(msg.id)
        if v is None and msg.human_edit_content:
            v = "edited"
        if v is None:
            continue
        agrees = bool(sh.same_chunk) or (sh.similarity or 0) >= SAME_ANSWER_SIMILARITY
        if v == "approved":
            win = agrees
        elif v == "edited":
            gold = msg.human_edit_content or ""
            win = text_similarity(sh.text, gold) > text_similarity(msg.redacted_content, gold)
        else:
            win = sh.escalated or not agrees
        b = by.setdefault(v, {"wins": 0, "losses": 0})
        b["wins" if win else "losses"] += 1
        wins += int(win)
        losses += int(not win)
    return {"judged": wins + losses, "wins": wins, "losses": losses, "by_verdict": by}


def _shadow_decision(report: dict[str, Any], cfg: stats.StatsConfig, min_users: int) -> tuple[str, str, bool]:
    ans, err_rate = report["answered"], report["error_rate"]
    n = report["shadow_answers"]
    if n >= 20 and err_rate is not None and err_rate > cfg.error_margin:
        var = err_rate * (1 - err_rate) / n + 1e-12
        p = stats.always_valid_p(err_rate, var, cfg.mde)
        if p <= cfg.alpha:
            return ROLLBACK, (f"guardrail: the candidate failed on {err_rate:.1%} of shadow answers "
                              f"(more than {cfg.error_margin:.0%}, p={p:.4f})"), True
    if ans["diff"] is not None and ans["se"]:
        p = stats.always_valid_p(ans["diff"], ans["se"] ** 2, cfg.mde)
        if ans["diff"] < -cfg.containment_margin and p <= cfg.alpha:
            return ROLLBACK, (f"guardrail: the candidate would hand over {-ans['diff']:.1%} more questions "
                              f"(more than {cfg.containment_margin:.0%}, p={p:.4f})"), True
    if report["users"] < min_users:
        return CONTINUE, f"{report['users']} users with shadow answers; no decision before {min_users}", False
    j = report["judgement"]
    if ans["direction"] < 0:
        return ROLLBACK, (f"the candidate answers significantly fewer questions "
                          f"(p={ans['p_value']:.4f})"), False
    if ans["direction"] > 0 and j["losses"] <= j["wins"]:
        return PROMOTE, (f"the candidate answers significantly more questions ({ans['candidate']:.1%} vs "
                         f"{ans['control']:.1%}, p={ans['p_value']:.4f}) and human judgement does not "
                         f"favour control ({j['wins']} wins, {j['losses']} losses)"), False
    return CONTINUE, "no significant difference between shadow and sent answers yet", False


# --- the comparison -------------------------------------------------------------------------
@dataclass
class Comparison:
    """compare_performance's answer: per-arm metrics, tests, composite, recommendation, and the
    days a decision still needs at the current traffic."""

    experiment_id: int
    name: str
    kind: str
    mode: str
    status: str
    share: float
    control_label: str
    candidate_label: str
    since: dt.datetime
    until: dt.datetime
    days_elapsed: float
    recommendation: str
    reason: str
    guardrail: bool
    enough_sample: bool
    control: dict[str, Any]
    candidate: dict[str, Any]
    tests: dict[str, Any]
    guardrails: dict[str, Any]
    composite: dict[str, Any]
    users: int
    users_per_day: float | None
    users_needed: int | None
    days_needed: float | None  # more days until a decision is expected (None: unknown)
    crossover_conversations: int = 0
    shadow: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, dt.datetime):
        return o.isoformat()
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def compare_performance(
    session: Session,
    experiment_id: int,
    settings,
    *,
    days: int | None = None,
    clock: Clock | None = None,
) -> Comparison:
    """Compare the arms over the whole experiment (``days`` = only its last ``days`` days; the
    sequential guarantees hold for the whole experiment, a window is descriptive)."""
    clock = clock or SystemClock()
    exp = get_experiment(session, experiment_id)
    cfg = stats.StatsConfig.from_settings(settings)
    cfg.min_users_per_arm = exp.min_users_per_arm
    since, until = _window(exp, days, clock.now())
    elapsed = max((until - exp.started_at).total_seconds() / 86400.0, 0.0)
    control, candidate, extra = arm_data(session, exp, since, until)
    seed = int(hashlib.md5(exp.salt.encode()).hexdigest()[:8], 16)  # noqa: S324
    share = exp.share if exp.mode == "split" else 0.5
    dec = stats.decide(control, candidate, cfg, share=share, seed=seed)
    users = control.users + candidate.users
    window_days = max((until - since).total_seconds() / 86400.0, 0.0)
    per_day = users / window_days if window_days >= 1.0 / 24 and users else None
    shadow = None
    rec, reason, guard, enough = dec.recommendation, dec.reason, dec.guardrail, dec.enough_sample
    users_needed = dec.users_needed
    if exp.mode == "shadow":
        shadow = shadow_report(session, exp, since, until, cfg)
        rec, reason, guard = _shadow_decision(shadow, cfg, exp.min_users_per_arm)
        enough = shadow["users"] >= exp.min_users_per_arm
        users_needed = None
        per_day = shadow["users"] / window_days if window_days >= 1.0 / 24 and shadow["users"] else None
    days_needed = None
    if rec == CONTINUE and users_needed is not None and per_day:
        days_needed = round(max(users_needed - users, 0) / per_day, 1)
    elif rec != CONTINUE:
        days_needed = 0.0
    return Comparison(
        experiment_id=exp.id, name=exp.name, kind=exp.kind, mode=exp.mode, status=exp.status,
        share=exp.share, control_label=label(exp.control), candidate_label=label(exp.candidate),
        since=since, until=until, days_elapsed=round(elapsed, 2), recommendation=rec, reason=reason,
        guardrail=guard, enough_sample=enough,
        control=dataclasses.asdict(dec.control), candidate=dataclasses.asdict(dec.candidate),
        tests={k: dataclasses.asdict(v) for k, v in dec.tests.items()}, guardrails=dec.guardrails,
        composite=dataclasses.asdict(dec.composite), users=users,
        users_per_day=round(per_day, 2) if per_day else None, users_needed=users_needed,
        days_needed=days_needed, crossover_conversations=extra["crossover_conversations"], shadow=shadow,
    )


# --- decisions ------------------------------------------------------------------------------
def _record_comparison(exp: Experiment, cmp: Comparison, now: dt.datetime) -> None:
    exp.recommendation = cmp.recommendation
    exp.last_comparison = cmp.as_dict()
    exp.last_checked_at = now


def promote(
    session: Session,
    experiment_id: int,
    settings,
    *,
    actor,
    clock: Clock | None = None,
    force: bool = False,
    reason: str = "",
    system: bool = False,
) -> Experiment:
    """Switch production to the candidate in the caller's transaction (admin only).

    Refused unless the comparison now recommends PROMOTE (``force`` overrides, e.g. for a
    shadow test the admin judged by hand). The previous production is recorded on the
    experiment for ``rollback``."""
    from core.knowledge.versions import activate_version, active_version

    clock = clock or SystemClock()
    who = actor if system else _require_admin(session, actor)
    exp = _running(session, experiment_id)
    cmp = compare_performance(session, exp.id, settings, clock=clock)
    _record_comparison(exp, cmp, clock.now())
    if cmp.recommendation != PROMOTE and not force:
        raise Conflict(f"Experiment {exp.id} does not recommend promotion ({cmp.recommendation}: "
                       f"{cmp.reason}). Wait for more data, or pass --force to promote anyway.")
    now = clock.now()
    st = production_settings(session, settings)
    active = active_version(session)
    previous: dict[str, Any] = {"kb_version_id": active.id if active else None}
    cand = exp.candidate
    if exp.kind == "chat_model":
        previous["chat_model"] = st.chat_model
        _set_production(session, "chat_model", cand["chat_model"], actor=who, now=now, experiment_id=exp.id)
    if exp.kind == "embedding_model":
        previous["embedding_model_path"] = st.embedding_model_path or ""
        _set_production(session, "embedding_model_path", cand["embedding_model_path"], actor=who, now=now,
                        experiment_id=exp.id)
    switch_kb = exp.kind in ("kb_version", "embedding_model")
    if switch_kb and (active is None or active.id != cand["kb_version_id"]):
        activate_version(session, cand["kb_version_id"], settings, actor=who, clock=clock, force=True,
                         reason=f"experiment {exp.id} promoted")
    before = _snapshot(exp)
    exp.status, exp.decision, exp.previous = "promoted", PROMOTE, previous
    exp.reason = (reason or cmp.reason)[:2000] + ("" if cmp.recommendation == PROMOTE else " (forced)")
    exp.confirmed_by, exp.decided_at, exp.ended_at = who, now, now
    session.flush()
    audit.record(session, who, "experiment.promote", "experiment", exp.id, before=before,
                 after={**_snapshot(exp), "previous": previous, "recommendation": cmp.recommendation},
                 clock=clock)
    events.record(session, "experiment.promoted", f"Experiment {exp.id} promoted: {label(cand)}", clock=clock,
                  details={"experiment_id": exp.id, "candidate": cand, "previous": previous, "actor": who})
    return exp


def rollback(
    session: Session,
    experiment_id: int,
    settings,
    *,
    actor,
    reason: str,
    clock: Clock | None = None,
    guardrail: bool = False,
    system: bool = False,
) -> Experiment:
    """End a running experiment in favour of control (everyone gets production again), or
    undo a promoted one: the recorded previous production is restored in the caller's
    transaction. Audited, with an ``experiment.rolled_back`` warning event."""
    from core.knowledge.versions import activate_version, active_version

    clock = clock or SystemClock()
    who = actor if system else _require_admin(session, actor)
    if not reason or not reason.strip():
        raise ValidationError("Say why the experiment is rolled back (--reason).")
    exp = get_experiment(session, experiment_id)
    if exp.status not in ("running", "promoted"):
        raise Conflict(f"Experiment {exp.id} is {exp.status}; only a running or promoted one can be "
                       "rolled back.")
    now = clock.now()
    before = _snapshot(exp)
    restored: dict[str, Any] = {}
    if exp.status == "promoted":
        prev = exp.previous or {}
        for key in CONFIG_KEYS:
            if key in prev:
                _set_production(session, key, prev[key], actor=who, now=now, experiment_id=exp.id)
                restored[key] = prev[key]
        target = prev.get("kb_version_id")
        active = active_version(session)
        if target is not None and (active is None or active.id != target):
            activate_version(session, target, settings, actor=who, clock=clock, force=True,
                             reason=f"experiment {exp.id} rolled back")
            restored["kb_version_id"] = target
    else:
        exp.ended_at = now
        exp.decided_at = now
    exp.status, exp.decision, exp.reason = "rolled_back", ROLLBACK, reason.strip()[:2000]
    exp.confirmed_by = who
    session.flush()
    audit.record(session, who, "experiment.rollback", "experiment", exp.id, before=before,
                 after={**_snapshot(exp), "restored": restored, "guardrail": guardrail}, clock=clock)
    events.record(session, "experiment.rolled_back",
                  f"Experiment {exp.id} rolled back: {reason.strip()[:200]}", severity="warning", clock=clock,
                  details={"experiment_id": exp.id, "guardrail": guardrail, "restored": restored,
                           "actor": who})
    return exp


def stop(session: Session, experiment_id: int, *, actor, reason: str, clock: Clock | None = None,
         system: bool = False) -> Experiment:
    """End a running experiment without a decision: production stays as it is."""
    clock = clock or SystemClock()
    who = actor if system else _require_admin(session, actor)
    if not reason or not reason.strip():
        raise ValidationError("Say why the experiment is stopped (--reason).")
    exp = _running(session, experiment_id)
    before = _snapshot(exp)
    now = clock.now()
    exp.status, exp.decision, exp.reason = "stopped", "STOP", reason.strip()[:2000]
    exp.confirmed_by, exp.decided_at, exp.ended_at = who, now, now
    session.flush()
    audit.record(session, who, "experiment.stop", "experiment", exp.id, before=before, after=_snapshot(exp),
                 clock=clock)
    events.record(session, "experiment.stopped", f"Experiment {exp.id} stopped: {reason.strip()[:200]}",
                  clock=clock, details={"experiment_id": exp.id, "actor": who})
    return exp


def check_running_experiments(session: Session, settings, clock: Clock | None = None,
                              actor: str = "jobs") -> list[dict[str, Any]]:
    """The runner's daily look at every running experiment:

    - ROLLBACK (a guardrail, or a primary metric significantly worse): rolled back now;
    - PROMOTE: promoted when ``experiment_auto_promote`` (split mode only), else an
      ``experiment.promote_recommended`` event asks an admin to confirm;
    - CONTINUE_TESTING past the planned end: extended up to ``experiment_max_days`` when the
      estimate says a decision is reachable by then, else stopped as inconclusive.
    """
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


def _check_one(session: Session, exp: Experiment, settings, clock: Clock, actor: str) -> dict[str, Any]:
    """check_running_experiments for one experiment."""
    now = clock.now()
    previous = exp.recommendation
    cmp = compare_performance(session, exp.id, settings, clock=clock)
    _record_comparison(exp, cmp, now)
    action = "none"
    if cmp.recommendation == ROLLBACK:
        rollback(session, exp.id, settings, actor=actor, reason=cmp.reason, clock=clock,
                 guardrail=cmp.guardrail, system=True)
        action = "rolled_back"
    elif cmp.recommendation == PROMOTE:
        if settings.experiment_auto_promote and exp.mode == "split":
            promote(session, exp.id, settings, actor=f"{actor} (auto-promote)", clock=clock, system=True)
            action = "promoted"
        else:
            action = "awaiting_confirmation"
            if previous != PROMOTE:
                events.record(session, "experiment.promote_recommended",
                              f"Experiment {exp.id} recommends promoting {label(exp.candidate)}; "
                              f"confirm with `supportloop experiment promote {exp.id}`", clock=clock,
                              details={"experiment_id": exp.id, "reason": cmp.reason})
    elif now >= exp.planned_end_at:
        latest = exp.started_at + dt.timedelta(days=settings.experiment_max_days)
        reachable = cmp.days_needed is not None and now + dt.timedelta(days=cmp.days_needed) <= latest
        if reachable and exp.planned_end_at < latest:
            wanted = now + dt.timedelta(days=cmp.days_needed) - exp.planned_end_at
            more = max(1, math.ceil(wanted.total_seconds() / 86400))
            extend(session, exp.id, more, actor=actor, clock=clock, settings=settings, system=True)
            events.record(session, "experiment.extended",
                          f"Experiment {exp.id} extended to {exp.planned_end_at:%Y-%m-%d}: about "
                          f"{cmp.days_needed:g} more days needed", clock=clock,
                          details={"experiment_id": exp.id, "days_needed": cmp.days_needed})
            action = "extended"
        else:
            why = "inconclusive at its planned end"
            if cmp.days_needed:
                why += f"; a decision would need about {cmp.days_needed:g} more days"
            stop(session, exp.id, actor=actor, reason=why, clock=clock, system=True)
            events.record(session, "experiment.inconclusive", f"Experiment {exp.id} stopped: {why}",
                          severity="warning", clock=clock, details={"experiment_id": exp.id})
            action = "stopped"
    return {"experiment_id": exp.id, "recommendation": cmp.recommendation, "reason": cmp.reason,
            "action": action, "days_needed": cmp.days_needed}
