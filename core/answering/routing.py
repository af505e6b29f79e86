"""Routing an answer: what production serves, and which experiment arm answers a user.

- **Production** (``production_value`` / ``production_settings`` / ``production_embedder``):
  the chat model and embedding model an experiment promoted are rows of the
  ``production_config`` table and override the settings; without a row production follows
  the settings.
- **Assignment** (``bucket`` / ``arm_of`` / ``route``): md5("salt:user") -> a number in
  [0, 1); the user is in the candidate arm of a running experiment when it is below the
  share. The same user always gets the same arm, and raising the share keeps every
  candidate user in the candidate arm.
- **Answering** (``answer_for_user`` + ``record_answer``): the responder answers with the
  user's arm (and, in shadow mode, the candidate answers too); the stored message carries
  ``experiment_id`` and ``arm``, one ``experiment_exposure`` row per experiment, and one
  ``shadow_answer`` row per shadow answer.

Experiments are started, compared and decided in ``core.experiments``; this module only
reads the running ones.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.answering import responder
from core.knowledge.index import IndexCache
from core.knowledge.versions import active_version, get_version
from core.platform import events
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.embeddings import get_embedder
from core.platform.errors import ValidationError
from core.platform.models import Experiment, ExperimentExposure, Message, ProductionConfig, ShadowAnswer
from core.platform.services import Embedder, Enricher, Scrubber
from core.platform.statuses import Arm, ExperimentMode, ExperimentStatus

CONFIG_KEYS = ("chat_model", "embedding_model_path")
_PINNED_MAX = 8  # pinned KB versions kept loaded per process


# --- production configuration --------------------------------------------------------------
def production_value(session: Session, key: str) -> str | None:
    """The stored production value of ``key`` (chat_model, embedding_model_path), or None
    when production still follows the settings."""
    if key not in CONFIG_KEYS:
        raise ValidationError(f"Unknown production setting {key!r}; use one of {', '.join(CONFIG_KEYS)}.")
    row = session.get(ProductionConfig, key)
    return row.value if row is not None else None


def production_settings(session: Session, settings: Settings) -> Settings:
    """``settings`` with what production serves applied: the chat model and embedding model
    an experiment promoted (stored in ``production_config``) override the environment."""
    update = {}
    for key in CONFIG_KEYS:
        value = production_value(session, key)
        if value is not None and value != getattr(settings, key):
            update[key] = value
    return settings.model_copy(update=update) if update else settings


def default_embedder_loader(settings: Settings) -> Callable[[str], Any]:
    """Loads (once per process) the embedder of a model folder ('' = the bundled MiniLM)."""
    return lambda path: get_embedder(settings.model_copy(update={"embedding_model_path": path}))


def production_embedder(session: Session, settings: Settings, *, base: Callable[[], Any] | None = None,
                        loader: Callable[[str], Any] | None = None) -> Any:
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
        return base() if base is not None else get_embedder(settings)
    return (loader or default_embedder_loader(settings))(path)


# --- assignment ----------------------------------------------------------------------------
def bucket(salt: str, user_id: str) -> float:
    """The user's fixed position in [0, 1) for this salt: md5("salt:user") as a fraction."""
    digest = hashlib.md5(f"{salt}:{user_id}".encode()).hexdigest()  # noqa: S324 - not for security
    return int(digest[:15], 16) / float(16**15)


def arm_of(experiment: Experiment, user_id: str) -> Arm:
    """``candidate`` when the user's bucket is below the share, else ``control``."""
    return Arm.CANDIDATE if bucket(experiment.salt, user_id) < experiment.share else Arm.CONTROL


@dataclass
class Assignment:
    """Where one user's answer comes from in one running experiment. In shadow mode ``arm``
    is always ``control`` (what is sent) and ``shadow`` says whether the candidate answers too."""

    experiment_id: int
    kind: str
    mode: str
    arm: Arm
    bucket: float
    target: dict[str, Any]  # what answers the sent message (control or candidate)
    shadow: bool = False
    shadow_target: dict[str, Any] | None = None


def running_experiments(session: Session, kind: str | None = None) -> list[Experiment]:
    """Running experiments (of ``kind``), oldest first."""
    q = select(Experiment).where(Experiment.status == ExperimentStatus.RUNNING).order_by(Experiment.id)
    if kind is not None:
        q = q.where(Experiment.kind == kind)
    return list(session.scalars(q))


def route(session: Session, user_id: str, kind: str | None = None) -> list[Assignment]:
    """The user's assignment in every running experiment (of ``kind``): empty when none runs."""
    if not user_id:
        raise ValidationError("Routing needs a user id (the chat session id, phone number, e-mail...).")
    out = []
    for exp in running_experiments(session, kind):
        b = bucket(exp.salt, user_id)
        in_candidate = b < exp.share
        if exp.mode == ExperimentMode.SPLIT:
            arm = Arm.CANDIDATE if in_candidate else Arm.CONTROL
            out.append(Assignment(exp.id, exp.kind, exp.mode, arm, b,
                                  dict(exp.candidate if in_candidate else exp.control)))
        else:
            out.append(Assignment(exp.id, exp.kind, exp.mode, Arm.CONTROL, b, dict(exp.control),
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

    def __init__(self, cache: IndexCache, version: Any):
        self.cache, self.version = cache, version

    def active(self, session: Session, settings: Settings) -> Any:
        return self.cache.get(self.version, settings)


_PINNED: dict[tuple, IndexCache] = {}
_PINNED_LOCK = threading.Lock()


def _pinned_index(session: Session, version_id: int, settings: Settings) -> _PinnedIndex:
    version = get_version(session, version_id)
    key = (str(settings.index_dir), version_id)
    with _PINNED_LOCK:
        cache = _PINNED.get(key)
        if cache is None:
            if len(_PINNED) >= _PINNED_MAX:
                _PINNED.pop(next(iter(_PINNED)))
            cache = _PINNED[key] = IndexCache()
    return _PinnedIndex(cache, version)


def _answer_with(session: Session, question: str, target: dict[str, Any], *, embedder: Embedder,
                 embedder_loader, settings, index_cache, clock, intent) -> responder.Answer:
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
    embedder: Embedder,
    settings: Settings,
    index_cache: Any = None,
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
    assignments = route(session, user_id)
    target: dict[str, Any] = {}
    for a in assignments:
        target.update(a.target)
    kw = dict(embedder=embedder, embedder_loader=embedder_loader, settings=st, index_cache=index_cache,
              clock=clock, intent=intent)
    failed: dict[int, str] = {}
    try:
        ans = _answer_with(session, question, target, **kw)
    except Exception as exc:  # noqa: BLE001 - a failing candidate must not fail the customer
        cand = [a for a in assignments if a.arm == Arm.CANDIDATE]
        if not cand:
            raise
        for a in cand:
            failed[a.experiment_id] = f"{type(exc).__name__}: {exc}"[:500]
        safe = {}
        for a in assignments:
            safe.update(a.target if a.arm == Arm.CONTROL else _experiment_control(session, a.experiment_id))
        ans = _answer_with(session, question, safe, **kw)
    for a in assignments:
        if a.arm == Arm.CANDIDATE and ans.error and a.experiment_id not in failed:
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


# --- recording ------------------------------------------------------------------------------
def record_answer(
    session: Session,
    conversation_id: int,
    answer: responder.Answer,
    *,
    clock: Clock | None = None,
    scrubber: Scrubber | None = None,
    escalate_conversation: bool = True,
    settings: Settings | None = None,
    enricher: Enricher | None = None,
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
        _record_shadow(session, s, answer, msg.id, sent_first, scrubber, now)
    session.flush()
    return msg


def _record_shadow(session: Session, s: ShadowResult, sent: RoutedAnswer, message_id: int,
                   sent_first: int | None, scrubber: Scrubber | None, now: Any) -> None:
    """One ``shadow_answer`` row: the candidate's answer (or its error) beside the sent one."""
    sa = s.answer
    if sa is None:
        session.add(ShadowAnswer(experiment_id=s.experiment_id, message_id=message_id,
                                 user_key=sent.user_key[:200], text="", escalated=False,
                                 used_chunk_ids=[], error=s.error, created_at=now))
        return
    text = sa.text if scrubber is None else scrubber.scrub(sa.text).text
    shadow_first = sa.used_chunk_ids[0] if sa.used_chunk_ids else None
    session.add(ShadowAnswer(
        experiment_id=s.experiment_id, message_id=message_id, user_key=sent.user_key[:200], text=text,
        confidence=sa.confidence, escalated=sa.escalated, used_chunk_ids=list(sa.used_chunk_ids),
        kb_version_id=sa.kb_version_id, model_used=sa.model_used, latency_ms=sa.latency_ms,
        tokens_in=sa.tokens_in, tokens_out=sa.tokens_out, error=sa.error,
        same_chunk=(sent_first == shadow_first) if (sent_first or shadow_first) else None,
        similarity=round(text_similarity(sa.text, sent.text), 4), created_at=now,
    ))
