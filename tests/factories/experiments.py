"""Experiments on the small knowledge base: two KB versions (v1 active, v2 a candidate with a
reworded adult-price chunk), customer turns answered through the experiment router, and
synthetic traffic with known containment per arm."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy.orm import Session

from core.answering import routing
from core.conversations import outcomes
from core.experiments import lifecycle
from core.knowledge.chunks import chunk_by_external_id, update_chunk
from core.knowledge.index import IndexCache
from core.knowledge.versions import activate_version, build_version
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.embeddings import HashingEmbedder
from core.platform.models import Conversation, DatasetVersion, Experiment, FineTuneJob, Message
from core.platform.statuses import Arm, Channel, ConversationStatus, MessageRole
from tests.factories import ADMIN
from tests.factories.knowledge import T0, hashing, kb_settings, seed

QUESTIONS = [
    "what is the adult price per adult guest", "kids price per child", "is there a party food minimum",
    "how much is the travel fee for distance", "which service area do you cover",
    "booking deposit to hold a date", "what if it rains, rain plan", "vegetarian guests tofu",
]


def experiment_kb(session: Session, settings: Settings) -> dict[str, Any]:
    """Two KB versions: v1 active, v2 a candidate with a reworded adult-price chunk (committed).
    Returns settings, clock, embedder, both versions and an index cache."""
    st = kb_settings(settings)
    st.ensure_dirs()
    clock = seed(session)
    emb = hashing()
    v1 = build_version(session, emb, st, actor=ADMIN, clock=clock)
    activate_version(session, v1.id, st, actor=ADMIN, clock=clock, force=True)
    chunk = chunk_by_external_id(session, "price-adult")
    update_chunk(session, chunk.id, actor=ADMIN, clock=clock,
                 text="Adults pay sixty dollars each; the adult price includes salad, rice and two proteins.")
    v2 = build_version(session, emb, st, actor=ADMIN, clock=clock)
    session.commit()
    return {"settings": st, "clock": clock, "emb": emb, "v1": v1, "v2": v2, "cache": IndexCache()}


def start_kb_experiment(session: Session, kb: dict[str, Any], **kw: Any) -> Experiment:
    """A kb_version experiment of v2 against v1, started by ADMIN (salt "s1" unless given)."""
    kw.setdefault("kind", "kb_version")
    kw.setdefault("candidate", {"kb_version_id": kb["v2"].id})
    kw.setdefault("salt", "s1")
    return lifecycle.start_experiment(session, kb["settings"], actor=ADMIN, clock=kb["clock"], **kw)


def routed_turn(session: Session, kb: dict[str, Any], user: str, question: str, *,
                clock: Clock | None = None) -> tuple[Conversation, Message, routing.RoutedAnswer]:
    """A customer question from ``user`` answered through the experiment router and recorded."""
    clock = clock or kb["clock"]
    conv = Conversation(channel=Channel.WEB, external_user_id=user, created_at=clock.now())
    conv.messages.append(Message(role=MessageRole.USER, raw_content=question, redacted_content=question,
                                 created_at=clock.now()))
    session.add(conv)
    session.flush()
    routed = routing.answer_for_user(session, question, user_id=user, embedder=kb["emb"],
                                     settings=kb["settings"], index_cache=kb["cache"], clock=clock)
    msg = routing.record_answer(session, conv.id, routed, clock=clock, settings=kb["settings"])
    return conv, msg, routed


def close_conversation(session: Session, conv: Conversation, *, contained: bool, booked: bool,
                       csat: int | None, clock: Clock) -> None:
    """Close ``conv`` (handed off unless ``contained``) with a booking and a CSAT answer."""
    now = clock.now()
    conv.status, conv.closed_at = ConversationStatus.CLOSED, now
    if not contained:
        conv.escalated_at = now
    if booked:
        outcomes.record_booking(session, conv.id, True, 900.0, clock=clock)
    if csat is not None:
        outcomes.record_csat(session, conv.id, csat, clock=clock)
    outcomes.refresh_outcome(session, conv, clock)


def traffic(session: Session, kb: dict[str, Any], exp: Experiment, *, users: int, p_control: float,
            p_candidate: float, seed_: int = 1, day0: int = 0, days: int = 2) -> None:
    """``users`` users, one conversation each over ``days`` days, contained with probability
    ``p_control`` / ``p_candidate`` by arm (a fifth book, half give a CSAT of 4 or 5)."""
    rng = random.Random(seed_)
    clock = kb["clock"]
    for i in range(users):
        clock.set(T0 + dt.timedelta(days=day0 + days * i / users))
        user = f"u{seed_}-{i}"
        conv, _msg, _ = routed_turn(session, kb, user, rng.choice(QUESTIONS), clock=clock)
        p = p_candidate if routing.arm_of(exp, user) == Arm.CANDIDATE else p_control
        contained = rng.random() < p
        close_conversation(session, conv, contained=contained, booked=rng.random() < 0.2,
                           csat=rng.choice([4, 5]) if rng.random() < 0.5 else None, clock=clock)
    session.flush()


def embedder_candidate(session: Session, kb: dict[str, Any], path: str = "models/hash-256",
                       model_id: str = "local:hash-256") -> tuple[Any, Any]:
    """A succeeded local fine-tune offering an embedding model (``path``, a 256-dim hashing
    embedder stands in for it) and the candidate KB version it built (flushed); returns
    (fine-tune job, KB version)."""
    version = build_version(session, HashingEmbedder(dim=256), kb["settings"], actor=ADMIN, clock=kb["clock"])
    ds = DatasetVersion(name="loop", token_counter="estimate:chars/4", built_by="system", status="approved")
    session.add(ds)
    session.flush()
    job = FineTuneJob(dataset_version_id=ds.id, provider="local", status="succeeded", base_model="minilm",
                      launched_by="system", candidate_status="offered", fine_tuned_model=model_id,
                      finished_at=kb["clock"].now(), result={"model_path": path, "kb_version_id": version.id})
    session.add(job)
    session.flush()
    return job, version
