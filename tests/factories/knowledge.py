"""A small knowledge base (ten chunks of a catering business) with evaluation questions worded
so the deterministic hashing embedder retrieves the right chunk, and builders around it."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from core.knowledge.chunks import import_chunks
from core.knowledge.evaluation import import_questions
from core.knowledge.versions import activate_version, build_version
from core.platform.clock import Clock, FixedClock
from core.platform.config import Settings
from core.platform.embeddings import Embedder, HashingEmbedder
from core.platform.models import Conversation, Message
from core.platform.statuses import Channel, MessageRole
from tests.factories import ADMIN

T0 = dt.datetime(2026, 3, 1, 12, 0)  # when seed() writes the knowledge base

CHUNKS = [
    {
        "external_id": "price-adult",
        "title": "Adult price",
        "category": "pricing",
        "text": "The adult price is sixty dollars per adult guest and includes salad, rice and two proteins.",
    },
    {
        "external_id": "price-kids",
        "title": "Kids price",
        "category": "pricing",
        "text": "The kids price is thirty dollars per child aged four to twelve.",
    },
    {
        "external_id": "minimum",
        "title": "Party minimum",
        "category": "pricing",
        "text": "Every party has a food minimum of six hundred dollars.",
    },
    {
        "external_id": "travel-fee",
        "title": "Travel fee",
        "category": "travel",
        "text": "The travel fee depends on distance: free within twenty miles, then fifty dollars.",
    },
    {
        "external_id": "service-area",
        "title": "Service area",
        "category": "travel",
        "text": "Our service area covers the whole bay area and wine country towns.",
    },
    {
        "external_id": "deposit",
        "title": "Deposit",
        "category": "policy",
        "text": "A booking deposit of one hundred dollars holds your date and is refundable.",
    },
    {
        "external_id": "rain",
        "title": "Rain plan",
        "category": "policy",
        "text": "If it rains the chef cooks under a covered patio, garage or tent.",
    },
    {
        "external_id": "vegetarian",
        "title": "Vegetarian menu",
        "category": "menu",
        "text": "Vegetarian guests can choose tofu and extra vegetables as their protein.",
    },
    {
        "external_id": "allergy",
        "title": "Nut allergy",
        "category": "dietary",
        "text": "We never cook with peanuts or tree nuts, so a nut allergy is safe.",
    },
    {
        "external_id": "book",
        "title": "How to book",
        "category": "booking",
        "text": "To book a party send your date, guest count and address through the booking form.",
    },
]

EVAL = [
    {"question": "what is the adult price per adult guest", "expected_external_id": "price-adult"},
    {"question": "kids price per child", "expected_external_id": "price-kids"},
    {"question": "is there a party food minimum", "expected_external_id": "minimum"},
    {"question": "how much is the travel fee for distance", "expected_external_id": "travel-fee"},
    {"question": "which service area do you cover", "expected_external_id": "service-area"},
    {"question": "booking deposit to hold a date", "expected_external_id": "deposit"},
    {"question": "what if it rains, rain plan", "expected_external_id": "rain"},
    {"question": "vegetarian guests tofu", "expected_external_id": "vegetarian"},
    {"question": "nut allergy peanuts", "expected_external_id": "allergy"},
    {"question": "how to book a party booking form", "expected_external_id": "book"},
]


def hashing() -> HashingEmbedder:
    """The deterministic embedder the evaluation questions are worded for."""
    return HashingEmbedder(dim=512)


def kb_settings(settings: Settings) -> Settings:
    """Confidence calibration that suits the hashing embedder's scores."""
    return settings.model_copy(
        update={"kb_score_floor": 0.05, "kb_score_ceiling": 0.4, "kb_escalation_threshold": 0.2}
    )


def seed(
    session: Session, *, chunks: list[dict] = CHUNKS, questions: list[dict] = EVAL, clock: Clock | None = None
) -> Clock:
    """Import ``chunks`` and evaluation ``questions`` (as ADMIN, at ``T0``); returns the clock used."""
    clock = clock or FixedClock(T0)
    import_chunks(session, chunks, actor=ADMIN, clock=clock)
    if questions:
        import_questions(session, questions, actor=ADMIN, source="demo", clock=clock)
    session.flush()
    return clock


def conversation(session: Session, text: str = "hello") -> Conversation:
    """A web conversation with one customer message ``text`` (flushed)."""
    conv = Conversation(channel=Channel.WEB, external_user_id="u-1", created_at=T0)
    conv.messages.append(
        Message(role=MessageRole.USER, raw_content=text, redacted_content=text, created_at=T0)
    )
    session.add(conv)
    session.flush()
    return conv


class FailingEmbedder:
    """Wraps an embedder and raises on the n-th encode call (a build that dies midway)."""

    def __init__(self, inner: Embedder, fail_on_call: int = 1):
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self.calls, self.fail_on_call = 0, fail_on_call

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.calls >= self.fail_on_call:
            raise RuntimeError("embedding worker died")
        return self.inner.encode(texts)


def make_kb(session: Session, settings: Settings) -> Settings:
    """Seed the small KB, build and activate a version with the hashing embedder (committed);
    returns the calibrated settings (``kb_settings``)."""
    st = kb_settings(settings)
    st.ensure_dirs()
    seed(session)
    version = build_version(session, hashing(), st, actor=ADMIN)
    activate_version(session, version.id, st, actor=ADMIN, force=True)
    session.commit()
    return st
