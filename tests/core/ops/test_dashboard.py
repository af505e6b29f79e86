"""core.ops.dashboard: the conversation list pages with offset and its count agrees with it."""

import datetime as dt

from core.ops.dashboard import count_conversations, find_conversations
from core.platform.models import Conversation, ConversationOutcome, Message

T = dt.datetime(2026, 3, 1, 12)


def test_the_count_by_channel_agrees_with_the_pages_of_the_list(session):
    for i in range(7):
        c = Conversation(channel="sms" if i % 3 else "web", external_user_id=f"u{i}",
                         created_at=T + dt.timedelta(hours=i))
        c.messages.append(Message(role="user", raw_content="x", redacted_content=f"travel fee {i}",
                                  created_at=c.created_at))
        c.outcome = ConversationOutcome(booking_converted=i < 2)
        session.add(c)
    session.add(Conversation(channel="web", external_user_id="old", created_at=T - dt.timedelta(days=40)))
    session.commit()
    since, until = T - dt.timedelta(days=1), T + dt.timedelta(days=1)
    counts = count_conversations(session, since=since, until=until)
    assert counts == {"web": 3, "sms": 4}
    pages = [find_conversations(session, since=since, until=until, limit=3, offset=o) for o in (0, 3, 6)]
    ids = [r.id for p in pages for r in p]
    assert [len(p) for p in pages] == [3, 3, 1] and len(set(ids)) == 7
    assert ids == sorted(ids, reverse=True)  # newest first, no overlap between pages
    assert count_conversations(session, since=since, until=until, booked=True) == {"web": 1, "sms": 1}
    assert count_conversations(session, search="travel", channel="sms") == {"sms": 4}
    assert count_conversations(session, since=until) == {}
