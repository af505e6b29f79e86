"""Dashboard test helpers: Streamlit AppTest pages with a login, and seed data the pages show.

Log in inside AppTest by putting a token from ``core.access.auth.authenticate`` in
``at.session_state["auth_token"]`` (pages.resources.AUTH_KEY) before ``at.run()``; the
``app_db`` fixture (tests/pages/conftest.py) points the dashboard at the test database.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from core.access import auth
from core.ops.rollup import rollup
from core.platform.actors import SYSTEM
from core.platform.config import Settings
from core.platform.models import Conversation, ConversationOutcome, Message, ReviewItem
from core.platform.statuses import Channel, ConversationStatus, DeliveryStatus, MessageRole
from core.review import delivery, queue
from pages.resources import AUTH_KEY

ROOT = Path(__file__).resolve().parents[2]


def token_for(db, role: str, name: str | None = None) -> str:  # noqa: ANN001 - the db fixture
    """Create a user with ``role`` and return a fresh login token."""
    name = name or f"test-{role}"
    with db.session() as s:
        auth.create_user(s, name, role, "password-123", actor=SYSTEM)
        login = auth.authenticate(s, name, "password-123")
        s.commit()
    return login.token


def page(name: str, token: str | None = None, **state) -> AppTest:
    """An AppTest of pages/<name>.py, logged in with ``token`` (anonymous when None)."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=120)
    if token:
        at.session_state[AUTH_KEY] = token
    for key, value in state.items():
        at.session_state[key] = value
    return at


def button(at: AppTest, label: str):  # noqa: ANN201 - a Streamlit testing element
    """The (form submit) button whose label is ``label``."""
    return next(b for b in at.button if b.label == label)


def refused(at: AppTest) -> bool:
    """Whether the page stopped at the login guard (anonymous) or the rights check."""
    warnings = " ".join(w.value for w in at.warning).lower()
    errors = " ".join(e.value for e in at.error).lower()
    return "log in" in warnings or "needs the" in errors


# --- seed data -----------------------------------------------------------------------------
def now() -> dt.datetime:
    """The current UTC time, naive (as the database stores it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def seed_conversations(session: Session, n: int = 12) -> list[int]:
    """``n`` closed or escalated conversations over the last days on several channels, with
    outcomes, rolled up into the metric tables."""
    ids = []
    channels = [Channel.WEB, Channel.SMS, Channel.EMAIL, Channel.INSTAGRAM]
    for i in range(n):
        t = now() - dt.timedelta(days=i % 10, hours=1)
        escalated = i % 5 == 0
        booked = i % 3 == 0
        status = ConversationStatus.ESCALATED if escalated else ConversationStatus.CLOSED
        c = Conversation(channel=channels[i % 4], external_user_id=f"u{i}", created_at=t, intent="pricing",
                         status=status, closed_at=t + dt.timedelta(minutes=5),
                         escalated_at=t if escalated else None)
        c.messages.append(Message(role=MessageRole.USER, raw_content=f"Price for {i} guests?",
                                  redacted_content=f"Price for {i} guests?", created_at=t))
        c.messages.append(Message(role=MessageRole.ASSISTANT, raw_content="It is $60 per adult.",
                                  redacted_content="It is $60 per adult.", confidence=0.8,
                                  created_at=t + dt.timedelta(seconds=4), cost_usd=0.001))
        c.outcome = ConversationOutcome(
            booking_converted=booked, booking_value_usd=600.0 if booked else None, csat=5 if i % 2 else 4,
            first_response_time_seconds=4.0, total_cost_usd=0.001, successful_outcome=True,
        )
        session.add(c)
        session.flush()
        ids.append(c.id)
    session.commit()
    rollup(session, full=True)
    session.commit()
    return ids


def seed_held_draft(session: Session, settings: Settings, question: str = "Can you do 200 guests in Irvine?",
                    answer: str = "Yes, we cover Irvine for parties of 200.") -> int:
    """A conversation whose low-confidence reply is held for pre-send approval; returns the
    review item id."""
    t = now() - dt.timedelta(minutes=30)
    c = Conversation(channel=Channel.EMAIL, external_user_id="ann@example.com", created_at=t,
                     intent="booking")
    c.messages.append(Message(role=MessageRole.USER, raw_content=question, redacted_content=question,
                              created_at=t))
    reply = Message(role=MessageRole.ASSISTANT, raw_content=answer, redacted_content=answer, confidence=0.1,
                    created_at=t + dt.timedelta(seconds=3))
    c.messages.append(reply)
    session.add(c)
    session.flush()
    d = delivery.queue_reply(session, reply.id, settings)
    assert d.status == DeliveryStatus.HELD
    session.commit()
    return session.query(ReviewItem).filter_by(message_id=reply.id).one().id


def seed_review_items(session: Session, n: int = 6) -> list[int]:
    """``n`` conversations whose answers are in the review queue (down votes on web and email, low
    confidence on sms and instagram); returns the review item ids, highest expected value first."""
    ids = []
    for conv_id in seed_conversations(session, n):
        conv = session.get(Conversation, conv_id)
        answer = next(m for m in conv.messages if m.role == MessageRole.ASSISTANT)
        why = "down_vote" if conv.channel in (Channel.WEB, Channel.EMAIL) else "low_confidence"
        ids.append(queue.flag_message(session, answer.id, why, actor=SYSTEM).id)
    session.commit()
    return [r.id for r in queue.list_queue(session, limit=n)]
