"""Planted personal data, end to end: import -> review (approve, edit, reject) -> votes and survey
comments -> dataset build + export -> KB proposals, refresh + export -> retention purge. Then every
text column of every table and every exported file is searched for the planted values.

Inside the retention window only the raw columns (raw message text, the raw edit the customer
gets, identifiers and channel metadata) may hold them; after the purge, nothing may.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.conversations import ingest
from core.conversations.retention import purge
from core.conversations.schemas import ConversationIn, MessageIn
from core.feedback import survey
from core.knowledge import chunks as knowledge
from core.knowledge.refresh import weekly_refresh
from core.learning import loop as learning
from core.platform.clock import FixedClock
from core.platform.errors import ValidationError
from core.platform.models import Base, Message, ReviewItem, Survey
from core.platform.pii import get_scrubber
from core.platform.statuses import Channel, ConversationStatus, MessageRole, SurveyStatus
from core.review import decisions
from core.review import queue as review
from core.training.builder import build_dataset
from core.training.datasets import approve_dataset, export_dataset
from tests.factories import ADMIN, REVIEWER
from tests.factories.knowledge import hashing, kb_settings, seed

T = dt.datetime(2026, 5, 1, 12, 0)

PLANTED = [
    "Xochitl", "Hernández", "Chukwuemeka", "Okafor", "El Camino Real", "94301",
    "650-555-0144", "650-555-0177", "6505550177", "987-65-4321", "4111 1111 1111 1111",
    "xochitl.hernandez@example.com", "chukwuemeka.okafor@example.org",
]
# columns that may hold raw personal data inside the retention window (the purge clears them)
RAW_ALLOWED = {
    ("message", "raw_content"),
    ("message", "human_edit_content"),
    ("conversation", "external_user_id"),
    ("conversation", "channel_metadata"),
    ("feedback", "voter"),
}


@pytest.fixture(scope="module")
def scrubber():
    return get_scrubber()


def _conversations() -> list[ConversationIn]:
    at = T
    return [
        ConversationIn(
            channel=Channel.EMAIL, external_user_id="xochitl.hernandez@example.com", external_id="p-1",
            status=ConversationStatus.ESCALATED, created_at=at, escalated_at=at,
            escalation_reason="Xochitl Hernández paid with card 4111 1111 1111 1111 "
                              "![receipt](https://tracker.example/p.png)",
            channel_metadata={"subject": "Booking", "phone": "650-555-0144",
                              "from": "Xochitl Hernández <xochitl.hernandez@example.com>"},
            messages=[
                MessageIn(MessageRole.USER, "Booking for Xochitl Hernández at 77 El Camino Real, Palo Alto "
                          "CA 94301 for 20 guests. Call me on 650-555-0144.", created_at=at),
                MessageIn(MessageRole.ASSISTANT, "Thanks Xochitl Hernández! For 20 guests the price is $60 "
                          "per adult with a $600 minimum.", created_at=at + dt.timedelta(seconds=5),
                          confidence=0.4),
            ],
        ),
        ConversationIn(
            channel=Channel.SMS, external_user_id="+16505550177", external_id="p-2", created_at=at,
            channel_metadata={"carrier": "verizon", "caller_id": "+16505550177"},
            messages=[
                MessageIn(MessageRole.USER, "Hi, this is Dr. Chukwuemeka Okafor. My SSN is 987-65-4321 and "
                          "my email is chukwuemeka.okafor@example.org. Do you travel to Palo Alto?",
                          created_at=at),
                MessageIn(MessageRole.ASSISTANT, "Yes, we travel to Palo Alto for a $50 travel fee.",
                          created_at=at + dt.timedelta(seconds=5), confidence=0.4),
            ],
        ),
        ConversationIn(
            channel=Channel.WEB, external_user_id="web-7f3a", external_id="p-3", created_at=at,
            messages=[
                MessageIn(MessageRole.USER, "How much is the hibachi party for 20 people?", created_at=at),
                MessageIn(MessageRole.ASSISTANT,
                          "For 20 guests the price is $60 per adult with a $600 minimum.",
                          created_at=at + dt.timedelta(seconds=5), confidence=0.4),
            ],
        ),
    ]


def _text(value) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def _leaks(session: Session, allowed: set[tuple[str, str]]) -> list[str]:
    """``table.column: value`` for every planted value found in any column of any table."""
    found = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)).mappings():
            for col, value in row.items():
                if (table.name, col) in allowed:
                    continue
                text = _text(value).lower()
                found += [f"{table.name}.{col}: {p}" for p in PLANTED if p.lower() in text]
    return found


def _file_leaks(paths: list[Path]) -> list[str]:
    return [f"{p.name}: {v}" for p in paths for v in PLANTED
            if v.lower() in p.read_text(encoding="utf-8").lower()]


def test_planted_pii_never_leaves_and_is_purged(session, settings, scrubber, tmp_path):
    st = kb_settings(settings)
    clock = FixedClock(T)
    seed(session, clock=FixedClock(T - dt.timedelta(days=60)))
    weekly_refresh(session, hashing(), st, FixedClock(T - dt.timedelta(days=60)), actor=ADMIN)

    # 1. import
    report = ingest.store_conversations(session, _conversations(), scrubber, st, clock)
    assert len(report.conversation_ids) == 3
    answers = {
        cid: session.scalar(select(Message.id).where(Message.conversation_id == cid,
                                                     Message.role == MessageRole.ASSISTANT))
        for cid in report.conversation_ids
    }
    c1, c2, c3 = report.conversation_ids

    # 2. review: approve (+ KB), edit with personal data (+ KB), reject with personal data
    items = {cid: review.flag_message(session, mid, review.Reason.LOW_CONFIDENCE, actor=ADMIN, clock=clock)
             for cid, mid in answers.items()}
    decisions.approve(session, items[c3].id, REVIEWER, propose_chunk=True, clock=clock)
    decisions.edit(
        session, items[c2].id, REVIEWER,
        "Dr. Chukwuemeka Okafor, yes: we travel to Palo Alto for a $50 fee; we will call 650-555-0177.",
        "Okafor asked by phone at 650-555-0177", scrubber=scrubber, settings=st, propose_chunk=True,
        clock=clock,
    )
    decisions.reject(session, items[c1].id, REVIEWER,
                     "Xochitl Hernández wants a refund to 4111 1111 1111 1111", clock=clock,
                     scrubber=scrubber)
    knowledge.propose_chunk(session, title="Xochitl Hernández", source_type="manual", actor=ADMIN,
                            text="Call Xochitl Hernández on 650-555-0144.", scrubber=scrubber, clock=clock)

    # 3. votes and a survey answer with personal data in the comments
    learning.record_vote(session, answers[c1], "down", "xochitl.hernandez@example.com",
                         comment="I am Xochitl Hernández, call 650-555-0144", scrubber=scrubber,
                         settings=st, clock=clock)
    session.add(Survey(conversation_id=c2, status=SurveyStatus.SENT, attempts=1, created_at=T, sent_at=T))
    session.flush()
    learning.answer_survey(session, st, survey.make_token(st, c2, clock), 5,
                           "Dr. Chukwuemeka Okafor here, SSN 987-65-4321, great food", scrubber=scrubber,
                           clock=clock)
    session.commit()

    # 4. dataset build + export
    files: list[Path] = []
    info = build_dataset(session, st, scrubber, actor=ADMIN, clock=clock)
    approve_dataset(session, st, info.id, ADMIN, clock=clock)
    out = export_dataset(session, st, info.id, tmp_path / "export", actor=ADMIN)
    files += [Path(f["path"]) for f in out["files"].values()]

    # 5. KB promotion (refresh) and KB export
    weekly_refresh(session, hashing(), st, clock, actor=ADMIN)
    try:
        rows = knowledge.export_checked(session, statuses=("active", "proposed"), settings=st)
    except ValidationError as exc:  # refused is fine too: nothing was written
        assert "PII check" in str(exc)
    else:
        kb_file = tmp_path / "kb.jsonl"
        kb_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        files.append(kb_file)
    session.commit()

    assert files and _file_leaks(files) == []
    leaks = _leaks(session, RAW_ALLOWED)
    assert leaks == [], leaks
    # the raw columns do hold it inside the window (so the scan above can see it)
    assert _leaks(session, set())
    # the escalation reason is scrubbed; the reviewer's notes too
    assert "4111" not in (session.get(ReviewItem, items[c1].id).decision_reason or "")

    # 6. purge with the clock past the retention window: nothing anywhere
    late = FixedClock(T + dt.timedelta(days=st.retention_days + 1))
    cleared = purge(session, st, late, actor=ADMIN, scrubber=scrubber).cleared
    session.commit()
    assert cleared["message.raw_content"] >= 6 and cleared["conversation.external_user_id"] == 2
    assert cleared["conversation.channel_metadata"] == 2 and cleared["feedback.voter"] == 1
    assert _leaks(session, set()) == []
