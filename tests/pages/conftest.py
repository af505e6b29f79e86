"""Fixtures for AppTest page tests: the dashboard pointed at the test database, logins and
seed data.

Log in inside AppTest by putting a token from ``core.access.auth.authenticate`` in
``at.session_state["auth_token"]`` (pages.resources.AUTH_KEY) before ``at.run()``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.access import auth
from core.ops import metrics
from core.platform.config import Settings, get_settings
from core.platform.models import Conversation, ConversationOutcome, Message, ReviewItem
from core.review import delivery
from pages.resources import AUTH_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_db(db, monkeypatch, tmp_path):
    """The test database as the dashboard's database, with every Streamlit cache emptied."""
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(tmp_path / "var" / "indexes"))
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield db
    st.cache_resource.clear()
    st.cache_data.clear()
    get_settings.cache_clear()


def token_for(db, role: str, name: str | None = None) -> str:
    """Create a user with ``role`` and return a fresh login token."""
    name = name or f"test-{role}"
    with db.session() as s:
        auth.create_user(s, name, role, "password-123")
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


def button(at: AppTest, label: str):
    """The (form submit) button whose label is ``label``."""
    return next(b for b in at.button if b.label == label)


def refused(at: AppTest) -> bool:
    """Whether the page stopped at the login guard (anonymous) or the rights check."""
    warnings = " ".join(w.value for w in at.warning).lower()
    errors = " ".join(e.value for e in at.error).lower()
    return "log in" in warnings or "needs the" in errors


# --- seed data -----------------------------------------------------------------------------
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def seed_conversations(session, n: int = 12) -> list[int]:
    """``n`` closed or escalated conversations over the last days on several channels, with
    outcomes, rolled up into the metric tables."""
    ids = []
    channels = ["web", "sms", "email", "instagram"]
    for i in range(n):
        t = now() - dt.timedelta(days=i % 10, hours=1)
        escalated = i % 5 == 0
        booked = i % 3 == 0
        c = Conversation(channel=channels[i % 4], external_user_id=f"u{i}", created_at=t, intent="pricing",
                         status="escalated" if escalated else "closed", closed_at=t + dt.timedelta(minutes=5),
                         escalated_at=t if escalated else None)
        c.messages.append(Message(role="user", raw_content=f"Price for {i} guests?",
                                  redacted_content=f"Price for {i} guests?", created_at=t))
        c.messages.append(Message(role="assistant", raw_content="It is $60 per adult.",
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
    metrics.rollup(session, full=True)
    session.commit()
    return ids


def seed_held_draft(session, settings: Settings, question: str = "Can you do 200 guests in Irvine?",
                    answer: str = "Yes, we cover Irvine for parties of 200.") -> int:
    """A conversation whose low-confidence reply is held for pre-send approval; returns the
    review item id."""
    t = now() - dt.timedelta(minutes=30)
    c = Conversation(channel="email", external_user_id="ann@example.com", created_at=t, intent="booking")
    c.messages.append(Message(role="user", raw_content=question, redacted_content=question, created_at=t))
    reply = Message(role="assistant", raw_content=answer, redacted_content=answer, confidence=0.1,
                    created_at=t + dt.timedelta(seconds=3))
    c.messages.append(reply)
    session.add(c)
    session.flush()
    d = delivery.queue_reply(session, reply.id, settings)
    assert d.status == "held"
    session.commit()
    return session.query(ReviewItem).filter_by(message_id=reply.id).one().id
