import datetime as dt

import pytest

from core.conversations.queries import count_by_channel, list_conversations, transcript
from core.platform.errors import NotFound
from core.platform.models import Conversation, ConversationOutcome, Message


def _conv(session, channel, when, text, raw):
    c = Conversation(channel=channel, external_user_id="u", created_at=when)
    c.messages.append(Message(role="user", raw_content=raw, redacted_content=text, created_at=when))
    c.messages.append(Message(role="assistant", raw_content="ok", redacted_content="ok", created_at=when))
    c.outcome = ConversationOutcome(booking_converted=True, csat=5)
    session.add(c)
    return c


def test_list_filters_and_orders_newest_first(session):
    t0 = dt.datetime(2026, 1, 1)
    _conv(session, "sms", t0, "hi <PERSON>", "hi Ann")
    _conv(session, "email", t0 + dt.timedelta(hours=1), "price?", "price?")
    session.commit()
    rows = list_conversations(session)
    assert [r.channel for r in rows] == ["email", "sms"]
    assert rows[1].first_message == "hi <PERSON>" and rows[1].messages == 2 and rows[1].booked
    assert [r.channel for r in list_conversations(session, channel="sms")] == ["sms"]
    assert count_by_channel(session) == {"sms": 1, "email": 1}


def test_transcript_is_redacted_unless_raw_is_asked(session):
    c = _conv(session, "sms", dt.datetime(2026, 1, 1), "hi <PERSON>", "hi Ann")
    session.commit()
    assert transcript(session, c.id)[0]["text"] == "hi <PERSON>"
    assert transcript(session, c.id, raw=True)[0]["text"] == "hi Ann"
    with pytest.raises(NotFound):
        transcript(session, 999)
