import datetime as dt
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from core.config import get_settings
from core.models import Conversation, Message

ROOT = Path(__file__).resolve().parents[2]


def test_conversations_page_renders_redacted_text(db, session, monkeypatch):
    c = Conversation(channel="web", external_user_id="u", created_at=dt.datetime(2026, 1, 1))
    c.messages.append(Message(role="user", raw_content="I am Ann Lee", redacted_content="I am <PERSON>"))
    session.add(c)
    session.commit()
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    get_settings.cache_clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "conversations.py"), default_timeout=30).run()
    assert not at.exception
    texts = " ".join(t.value for t in at.text)
    assert "<PERSON>" in texts and "Ann Lee" not in texts
    get_settings.cache_clear()
