"""The weekly refresh: proposals in, candidate built, evaluation gate, activate or reject.

``weekly_refresh`` (the job runner's Sunday 02:00 task, or ``supportloop kb refresh``):

1. takes the proposed chunks (archiving those that read as a hand-off, ``core.knowledge.handoff``,
   and leaving out those the gate blamed while unchanged) and deduplicates them against the
   knowledge base: the same question and answer as an existing chunk (case, spacing and end
   punctuation aside) is archived as a duplicate; at least ``kb_dedupe_similarity`` similar to
   an existing chunk becomes an *update proposal* for that chunk (listed for an admin, not
   added); anything else joins the candidate. A *new phrasing* (:func:`new_phrasing`: the same
   answer as a chunk, to a question worded differently) is never a duplicate or an update of
   that chunk: it teaches retrieval another way customers ask, so it joins the candidate.
   (Question and answer are embedded together, so every question answered with the same text
   looks alike; before this rule most new phrasings ended as update proposals nobody needed.)
2. builds a candidate version from the active chunks plus the accepted proposals (only
   new or changed texts are embedded, thanks to the embedding cache); nothing changed and
   no ``force``: no build, status ``unchanged``;
3. evaluates candidate and active version on the evaluation set and activates the
   candidate unless it is significantly worse (``core.knowledge.evaluation.gate``: a paired
   exact sign test on per-question outcomes); otherwise marks it rejected with its report and
   records a ``kb.refresh_rejected`` warning event. After a rejection the lost questions are
   charged to the proposals that cost them (``core.knowledge.attribution``): the culprits stay
   proposed with the reason, and a candidate without them is built and gated once more; when
   nothing passes, the active version keeps serving. While an experiment of kind ``kb_version`` or
   ``embedding_model`` runs, a candidate that passes stays a candidate (status ``held``,
   the reason in the report and a ``kb.refresh_held`` info event): the experiment's
   control is the active version, and its promote / rollback decides what serves next;
4. flags stale chunks (``core.knowledge.staleness``); returns a ``RefreshReport``.

A refresh, like a manual activation, needs the ``manage_kb`` right; the job runner acts as
``core.platform.actors.SYSTEM``.

Everything happens in the caller's transaction: a failure anywhere leaves the previous
active version in place (at worst an unreferenced index file remains on disk). A caller on a
live database (the job runner, ``kb refresh``) passes ``checkpoint=session.commit``: the
refresh then commits what it wrote before each long stage (embedding, evaluating the
candidate), so SQLite's write lock is never held while it computes; a failure after a
checkpoint leaves what was committed (hand-offs archived, vectors cached, a candidate version
that was built but not gated) and the previous active version serving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.knowledge.attribution import attribute, gate_reason, hold_blamed, mark_blamed
from core.knowledge.chunks import check_text
from core.knowledge.evaluation import active_questions, evaluate, gate, summary
from core.knowledge.handoff import handoff_reason
from core.knowledge.index import IndexFileError, content_hash, embed_text, read_index_file
from core.knowledge.staleness import flag_stale_chunks
from core.knowledge.versions import (
    activate_version,
    active_version,
    build_version,
    embed_chunks,
    get_version,
)
from core.platform import events, pii_check
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Chunk, EvaluationQuestion, Experiment, KBVersionChunk
from core.platform.services import Embedder
from core.platform.statuses import ChunkStatus, ExperimentKind, ExperimentStatus, KBVersionStatus

# experiments that pin the active KB version
HOLDING_KINDS = (ExperimentKind.KB_VERSION, ExperimentKind.EMBEDDING_MODEL)


class RefreshStatus(StrEnum):
    """What a refresh (or the gate alone) did with the knowledge base."""

    ACTIVATED = "activated"
    REJECTED = "rejected"
    HELD = "held"  # passed the gate, not activated while an experiment runs
    UNCHANGED = "unchanged"


@dataclass
class RefreshReport:
    """What a refresh did. ``status``: a ``RefreshStatus`` (activated, rejected, held or
    unchanged)."""

    status: str
    candidate_version_id: int | None = None
    active_version_id: int | None = None
    previous_version_id: int | None = None
    added_chunk_ids: list[int] = field(default_factory=list)
    update_proposals: list[dict] = field(default_factory=list)
    duplicates_archived: list[int] = field(default_factory=list)
    chunk_count: int = 0
    embedded_count: int = 0
    build_seconds: float | None = None
    candidate_report: dict | None = None
    active_report: dict | None = None
    reasons: list[str] = field(default_factory=list)
    stale: list[dict] = field(default_factory=list)
    gate_tests: list[dict] = field(default_factory=list)
    blamed: list[dict] = field(default_factory=list)
    rejected_candidate_version_id: int | None = None
    held_back: list[dict] = field(default_factory=list)
    handoffs_archived: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def headline(self) -> str:
        """What the refresh did, in one plain sentence (the dashboard shows it)."""
        return outcome_text(self.status, self.reasons, self.blamed, self.candidate_version_id,
                            self.active_version_id, self.rejected_candidate_version_id)

    def summary(self) -> str:
        lines = [f"refresh: {self.status}", f"  {self.headline()}"]
        if self.candidate_version_id:
            lines.append(
                f"candidate version {self.candidate_version_id}: {self.chunk_count} chunks, "
                f"{self.embedded_count} embedded now, built in {self.build_seconds or 0:.1f}s"
            )
            lines.append(f"  candidate: {summary(self.candidate_report)}")
            if self.active_report:
                lines.append(f"  active v{self.previous_version_id}: {summary(self.active_report)}")
        for r in self.reasons:
            lines.append(f"  - {r}")
        lines.append(f"active version: {self.active_version_id}")
        if self.added_chunk_ids:
            lines.append(f"proposals added: {len(self.added_chunk_ids)}")
        if self.update_proposals:
            lines.append(
                f"update proposals for existing chunks: {len(self.update_proposals)} "
                "(see `supportloop kb proposals`)"
            )
        if self.duplicates_archived:
            lines.append(f"duplicate proposals archived: {len(self.duplicates_archived)}")
        if self.stale:
            lines.append(f"stale chunks: {len(self.stale)} (see `supportloop kb stale`)")
        for t in self.gate_tests:
            lines.append(f"  paired test: {t['losses']} questions lost, {t['wins']} won of "
                         f"{t['questions']} (exact sign test p = {t['p_value']:.4f}, alpha {t['alpha']})")
        for b in self.blamed:
            lines.append(f"  proposal #{b['chunk_id']} kept in review: {b['reason']}")
        for h in self.held_back:
            lines.append(f"  proposal #{h['chunk_id']} left out: {h['reason']}")
        if self.handoffs_archived:
            lines.append(f"hand-off proposals archived: {len(self.handoffs_archived)}")
        return "\n".join(lines)


def outcome_text(
    status: str, reasons: list[str], blamed: list[dict], candidate_id: int | None,
    active_id: int | None, rejected_id: int | None = None,
) -> str:
    """A refresh outcome in plain words: what happened and why."""
    culprits = ", ".join(f"#{b['chunk_id']}" for b in blamed)
    if status == RefreshStatus.ACTIVATED and rejected_id:
        return (f"Version {active_id} is live without proposal(s) {culprits}: the first candidate "
                f"(version {rejected_id}) answered fewer evaluation questions correctly because of "
                "them; they stay in the review queue with the reason.")
    if status == RefreshStatus.ACTIVATED:
        return f"Version {active_id} is live: it was not worse than the version before on the evaluation set."
    if status == RefreshStatus.UNCHANGED:
        return "Nothing changed since the live version, so no new version was built."
    if status == RefreshStatus.HELD:
        return (f"Version {candidate_id} passed the evaluation but is not live yet: "
                + (reasons[-1] if reasons else "an experiment is running") + ".")
    why = "; ".join(r for r in reasons if r and not r.startswith("active version")) or "it scored worse"
    blame = f" Proposal(s) {culprits} cost the most; they stay in the review queue with the reason." \
        if culprits else ""
    return (f"Version {candidate_id} was rejected and version {active_id} keeps serving: it answered "
            f"significantly fewer evaluation questions correctly ({why}).{blame}")


def wording(chunk: Chunk) -> tuple[str, str]:
    """A chunk's question (title) and answer (text), case, spacing and end punctuation aside."""
    def norm(text: str) -> str:
        return " ".join((text or "").casefold().split()).strip(" .?!")

    return norm(chunk.title), norm(chunk.text)


def new_phrasing(proposal: tuple[str, str], chunk: tuple[str, str]) -> bool:
    """Whether a proposal gives the same answer as a chunk to a question worded differently
    (both as :func:`wording` gives them): another way to ask, not a duplicate."""
    return proposal[1] == chunk[1] and proposal[0] != chunk[0]


def dedupe_proposals(
    session: Session,
    proposals: list[Chunk],
    active: list[Chunk],
    vectors: dict[str, np.ndarray],
    threshold: float,
) -> tuple[list[Chunk], list[dict], list[int]]:
    """Split proposals into accepted ones, update proposals (set ``duplicate_of_id``) and
    archived exact duplicates. ``vectors`` maps content hash to its embedding."""
    by_hash = {c.content_hash: c for c in active}
    if active:
        matrix = np.stack([vectors[c.content_hash] for c in active])
    else:
        matrix = np.zeros((0, 1), dtype=np.float32)
    active_words = [wording(c) for c in active]
    by_wording = dict(zip(active_words, active, strict=True))
    active_questions = np.array([w[0] for w in active_words], dtype=object)
    active_answers = np.array([w[1] for w in active_words], dtype=object)
    accepted: list[Chunk] = []
    accepted_words: list[tuple[str, str]] = []
    updates: list[dict] = []
    archived: list[int] = []
    for p in proposals:
        v = vectors[p.content_hash]
        words = wording(p)
        twin = by_hash.get(p.content_hash) or by_wording.get(words) or next(
            (
                a
                for a, w in zip(accepted, accepted_words, strict=True)
                if w == words
                or (not new_phrasing(words, w) and float(vectors[a.content_hash] @ v) >= threshold)
            ),
            None,
        )
        if twin is not None:
            p.duplicate_of_id, p.status = twin.id, ChunkStatus.ARCHIVED
            archived.append(p.id)
            continue
        if len(matrix):
            sims = matrix @ v
            # the chunks it is a new phrasing of never count as its near twins
            sims = np.where((active_answers == words[1]) & (active_questions != words[0]), -np.inf, sims)
            best = int(np.argmax(sims))
            if float(sims[best]) >= threshold:
                p.duplicate_of_id = active[best].id
                updates.append(
                    {
                        "proposal_id": p.id,
                        "chunk_id": active[best].id,
                        "external_id": active[best].external_id,
                        "similarity": round(float(sims[best]), 4),
                    }
                )
                continue
        accepted.append(p)
        accepted_words.append(words)
    session.flush()
    return accepted, updates, archived


def _same_content(session: Session, version_id: int, chunks: list[Chunk]) -> bool:
    q = select(KBVersionChunk.chunk_id, KBVersionChunk.content_hash).where(
        KBVersionChunk.kb_version_id == version_id
    )
    return set(session.execute(q).tuples()) == {(c.id, c.content_hash) for c in chunks}


def _evaluate_version(session: Session, version, embedder: Embedder, settings) -> dict:
    idx = read_index_file(
        Path(settings.index_dir) / version.index_file,
        version.checksum,
        version_id=version.id,
        ef_search=settings.kb_hnsw_ef_search,
    )
    return evaluate(idx, active_questions(session), embedder, settings)


def experiment_hold(session: Session) -> str | None:
    """Why a refresh must not switch the active KB version now: a running experiment of kind
    ``kb_version`` or ``embedding_model`` compares against the active version (its control)
    and decides itself what serves next. None when nothing holds the switch."""
    running = [
        e
        for kind in HOLDING_KINDS
        for e in session.scalars(
            select(Experiment)
            .where(Experiment.status == ExperimentStatus.RUNNING, Experiment.kind == kind)
            .order_by(Experiment.id)
        )
    ]
    if not running:
        return None
    names = ", ".join(f"{e.id} ({e.kind})" for e in running)
    return (f"not activated: experiment {names} is running; its promote or rollback decides the "
            "KB version, so this candidate waits (activate it later with `supportloop kb activate`)")


def gate_version(
    session: Session, version_id: int, embedder: Embedder, settings, *, actor: Actor,
    clock: Clock | None = None, hold: str | None = None,
) -> RefreshReport:
    """Evaluate a candidate against the active version; activate it if not worse, else
    mark it rejected (the active version keeps serving) and record a warning event. With
    ``hold`` (``experiment_hold``) a candidate that passes is kept as a candidate, not
    activated (status ``held``), with an info event saying why. Needs ``manage_kb``."""
    require(actor, "manage_kb")
    clock = clock or SystemClock()
    cand = get_version(session, version_id)
    if cand.status != KBVersionStatus.CANDIDATE:
        raise ValidationError(f"KB version {cand.id} is {cand.status}, not a candidate.")
    report = RefreshReport(
        status="",
        candidate_version_id=cand.id,
        chunk_count=cand.chunk_count,
        embedded_count=cand.embedded_count,
        build_seconds=cand.build_seconds,
    )
    cand_report = _evaluate_version(session, cand, embedder, settings)
    active = active_version(session)
    active_report = None
    if active is not None:
        report.previous_version_id = active.id
        if active.model_id == embedder.model_id:
            try:
                active_report = _evaluate_version(session, active, embedder, settings)
            except IndexFileError as exc:
                report.reasons.append(
                    f"active version {active.id} cannot be loaded ({exc}); the candidate replaces it"
                )
        else:
            active_report = active.eval_report
            report.reasons.append(
                f"active version {active.id} uses embedding model {active.model_id!r}; "
                "compared with its stored report"
            )
    ok, worse, tests = gate(cand_report, active_report, settings.kb_gate_alpha, settings.kb_gate_tolerance)
    report.gate_tests = [{k: v for k, v in t.items() if k != "lost"} for t in tests]
    report.candidate_report, report.active_report = cand_report, active_report
    cand.eval_report = {
        **cand_report,
        "baseline_version_id": active.id if active else None,
        "gate_tests": report.gate_tests,
        "baseline": {
            k: (active_report or {}).get(k)
            for k in ("hit_at_1", "hit_at_5", "mrr", "escalation_rate", "answered_accuracy")
        },
    }
    if cand_report.get("hit_at_1") is None:
        report.reasons.append(
            "no evaluation questions: the gate could not compare (add some with `supportloop kb eval-import`)"
        )
    if ok and hold:
        cand.decision = hold[:2000]
        report.status = RefreshStatus.HELD
        report.active_version_id = active.id if active else None
        report.reasons.append(hold)
        events.record(
            session,
            "kb.refresh_held",
            f"KB candidate {cand.id} passed the gate but was not activated: an experiment is running",
            clock=clock,
            details={"candidate_id": cand.id, "active_id": report.active_version_id, "reason": hold},
        )
    elif ok:
        decision = "not significantly worse than the active version" if active else "first version"
        activate_version(session, cand.id, settings, actor=actor, clock=clock, reason=decision)
        report.status = RefreshStatus.ACTIVATED
        report.active_version_id = cand.id
    else:
        cand.status = KBVersionStatus.REJECTED
        cand.decision = "worse than active version {}: {}".format(active.id, "; ".join(worse))
        report.status = RefreshStatus.REJECTED
        report.active_version_id = active.id
        report.reasons.extend(worse)
        events.record(
            session,
            "kb.refresh_rejected",
            f"KB candidate {cand.id} rejected: worse than active version {active.id}",
            severity="warning",
            clock=clock,
            details={
                "candidate_id": cand.id,
                "active_id": active.id,
                "worse": worse,
                "candidate": {k: cand_report.get(k) for k in cand.eval_report["baseline"]},
                "active": cand.eval_report["baseline"],
            },
        )
    session.flush()
    return report


def hold_flagged_proposals(session: Session, proposals: list[Chunk], settings) -> tuple[list[Chunk], str]:
    """KB promotion runs the independent PII check (``core.platform.pii_check``) over each
    proposal's title and text: a flagged proposal an admin did not approve stays proposed and
    out of this refresh. Returns the proposals that may join and a note on the held ones."""
    if not proposals:
        return proposals, ""
    texts = [check_text(c) for c in proposals]
    flagged = pii_check.flagged_texts(session, texts, settings)
    if not flagged:
        return proposals, ""
    held = {proposals[f.line - 1].id: f.types for f in flagged}
    note = (
        f"{len(held)} proposal(s) held back by the independent PII check: "
        + "; ".join(f"chunk {cid}: {', '.join(types)}" for cid, types in held.items())
        + " (redact them, or an admin approves with `supportloop pii approve --chunk ID`)"
    )
    return [c for c in proposals if c.id not in held], note


def set_aside_proposals(
    session: Session, proposals: list[Chunk], clock: Clock
) -> tuple[list[Chunk], list[int], list[dict]]:
    """Before a build: archive proposals that read as a hand-off, escalation or apology
    (``core.knowledge.handoff``: never knowledge) and leave out those the gate blamed
    (``core.knowledge.attribution``) while unchanged. Returns the proposals that may join, the
    archived ids and the held-back ones with their reason."""
    now, archived = clock.now(), []
    for c in proposals:
        why = handoff_reason(c.text)
        if why is not None:
            c.status, c.updated_at = ChunkStatus.ARCHIVED, now
            c.chunk_metadata = {**(c.chunk_metadata or {}), "archived_reason": why}
            archived.append(c.id)
    proposals = [c for c in proposals if c.id not in archived]
    proposals, blamed = hold_blamed(proposals)
    held = [{"chunk_id": c.id, "title": c.title, "reason": gate_reason(c)} for c in blamed]
    return proposals, archived, held


def _no_checkpoint() -> None:
    """The default checkpoint: nothing (the caller's one transaction)."""


def _build_and_gate(
    session: Session, embedder: Embedder, settings, members: list[Chunk], *, actor: Actor, reason: str,
    clock: Clock, progress: bool, hold: str | None, embedded: int = 0,
    checkpoint: Callable[[], None] = _no_checkpoint,
) -> RefreshReport:
    version = build_version(session, embedder, settings, chunks=members, actor=actor, reason=reason,
                            clock=clock, progress=progress)
    version.embedded_count += embedded  # embedded by the dedupe step just before the build
    checkpoint()  # the candidate row, before the evaluation embeds and searches
    return gate_version(session, version.id, embedder, settings, actor=actor, clock=clock, hold=hold)


def _without_culprits(
    session: Session, embedder: Embedder, settings, report: RefreshReport, accepted: list[Chunk],
    members: list[Chunk], *, actor: Actor, reason: str, clock: Clock, progress: bool, hold: str | None,
    checkpoint: Callable[[], None] = _no_checkpoint,
) -> tuple[RefreshReport, list[Chunk]]:
    """After a rejection: charge the lost questions to this refresh's proposals, keep the
    culprits in review with the reason, and gate a candidate without them once more."""
    blames = attribute(report.candidate_report or {}, report.active_report or {},
                       {c.id: c.title for c in accepted})
    if not blames:
        return report, accepted
    texts = {qid: q for qid, q in session.execute(select(EvaluationQuestion.id, EvaluationQuestion.question))}
    mark_blamed(session, blames, report.candidate_version_id, texts, clock)
    blamed = [b.as_dict() for b in blames]
    culprits = {b.chunk_id for b in blames}
    rest = [c for c in members if c.id not in culprits]
    current = active_version(session)
    if not rest or (current is not None and _same_content(session, current.id, rest)):
        report.blamed = blamed
        report.reasons.append("without the blamed proposals nothing changes, so no new version was built")
        return report, []
    retry = _build_and_gate(session, embedder, settings, rest, actor=actor, clock=clock, progress=progress,
                            hold=hold, reason=f"{reason} (without proposals {sorted(culprits)})",
                            checkpoint=checkpoint)
    retry.blamed, retry.rejected_candidate_version_id = blamed, report.candidate_version_id
    retry.reasons = [f"candidate {report.candidate_version_id} rejected: " + "; ".join(report.reasons),
                     *retry.reasons]
    return retry, [c for c in accepted if c.id not in culprits]


def weekly_refresh(
    session: Session,
    embedder: Embedder,
    settings,
    clock: Clock | None = None,
    *,
    actor: Actor,
    reason: str = "weekly refresh",
    force: bool = False,
    progress: bool = False,
    checkpoint: Callable[[], None] = _no_checkpoint,
) -> RefreshReport:
    """Run the whole refresh (see the module docstring; needs ``manage_kb``). Returns the report.
    ``checkpoint()`` is called before each long stage (``session.commit`` on a live database)."""
    require(actor, "manage_kb")
    clock = clock or SystemClock()
    active_chunks = list(
        session.scalars(select(Chunk).where(Chunk.status == ChunkStatus.ACTIVE).order_by(Chunk.id))
    )
    proposals = list(
        session.scalars(
            select(Chunk)
            .where(Chunk.status == ChunkStatus.PROPOSED, Chunk.duplicate_of_id.is_(None))
            .order_by(Chunk.id)
        )
    )
    proposals, handoffs, held_back = set_aside_proposals(session, proposals, clock)
    proposals, held = hold_flagged_proposals(session, proposals, settings)
    texts: dict[str, str] = {}
    for c in active_chunks + proposals:
        c.content_hash = content_hash(c.title, c.text)
        texts.setdefault(c.content_hash, embed_text(c.title, c.text))
    if not active_chunks and not proposals:
        raise NotFound("The knowledge base has no chunks. Import some with `supportloop kb import FILE`.")
    checkpoint()  # hand-offs archived, flagged proposals held: before the embedding
    vectors, embedded = embed_chunks(session, embedder, texts, clock=clock, progress=progress)
    checkpoint()  # the new vectors cached
    accepted, updates, archived = dedupe_proposals(
        session, proposals, active_chunks, vectors, settings.kb_dedupe_similarity
    )
    members = sorted(active_chunks + accepted, key=lambda c: c.id)
    current = active_version(session)
    if (
        current is not None
        and not force
        and not accepted
        and current.model_id == embedder.model_id
        and _same_content(session, current.id, members)
    ):
        report = RefreshReport(
            status=RefreshStatus.UNCHANGED,
            active_version_id=current.id,
            previous_version_id=current.id,
            update_proposals=updates,
            duplicates_archived=archived,
            chunk_count=current.chunk_count,
            reasons=["no new, changed or removed chunks since the active version"],
        )
    elif not members:
        raise ValidationError("Every proposal was a duplicate and no chunk is active: nothing to build.")
    else:
        hold = experiment_hold(session) if current is not None else None
        kw = {"actor": actor, "reason": reason, "clock": clock, "progress": progress, "hold": hold,
              "checkpoint": checkpoint}
        report = _build_and_gate(session, embedder, settings, members, embedded=embedded, **kw)
        if report.status == RefreshStatus.REJECTED and accepted:
            report, accepted = _without_culprits(session, embedder, settings, report, accepted, members, **kw)
        report.update_proposals, report.duplicates_archived = updates, archived
        if report.status == RefreshStatus.ACTIVATED:
            now = clock.now()
            for c in accepted:
                c.status, c.updated_at = ChunkStatus.ACTIVE, now
            report.added_chunk_ids = [c.id for c in accepted]
    report.handoffs_archived, report.held_back = handoffs, held_back
    report.stale = flag_stale_chunks(session, settings, clock)
    if held:
        report.reasons.append(held)
    events.record(
        session,
        "kb.refresh_completed",
        f"KB refresh: {report.status}",
        clock=clock,
        details={
            "status": report.status,
            "candidate_id": report.candidate_version_id,
            "active_id": report.active_version_id,
            "rejected_candidate_id": report.rejected_candidate_version_id,
            "actor": actor.name,
            "headline": report.headline(),
            "reasons": report.reasons[:10],
            "blamed": [{k: b[k] for k in ("chunk_id", "title", "questions_lost", "reason")}
                       for b in report.blamed],
        },
    )
    session.flush()
    return report


def last_refresh(session: Session) -> dict | None:
    """The latest refresh's outcome for the dashboard: ``status``, ``headline`` (plain words,
    with the reason), ``severity`` (``warning`` for a rejection or blamed proposals, ``success``
    for an activation, else ``info``), ``at`` and ``blamed``. None before the first refresh."""
    latest = events.recent(session, kind="kb.refresh_completed", limit=1)
    if not latest:
        return None
    d = latest[0].details or {}
    status, blamed = d.get("status"), d.get("blamed") or []
    headline = d.get("headline") or outcome_text(
        status, d.get("reasons") or [], blamed, d.get("candidate_id"), d.get("active_id"),
        d.get("rejected_candidate_id"))
    severity = ("warning" if status == RefreshStatus.REJECTED or blamed
                else "success" if status == RefreshStatus.ACTIVATED else "info")
    return {"status": status, "headline": headline, "severity": severity, "at": latest[0].created_at,
            "blamed": blamed}
