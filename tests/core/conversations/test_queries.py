import datetime as dt

import pytest

from core.conversations.queries import (
    conversation_detail,
    conversation_page,
    count_by_channel,
    decode_cursor,
    encode_cursor,
    list_conversations,
    transcript,
)
from core.platform.errors import NotFound, ValidationError
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


# --- read-back: conversation_page and conversation_detail -----------------------------------
def _many(session, n, channel="sms", start=dt.datetime(2026, 2, 1)):
    out = []
    for i in range(n):
        at = start + dt.timedelta(minutes=i)
        out.append(_conv(session, channel, at, f"q{i} <PHONE_NUMBER>", f"q{i} 555-0100"))
    session.commit()
    return [c.id for c in out]


def test_pages_walk_every_conversation_once_newest_first(session):
    ids = _many(session, 7)
    seen, cursor = [], None
    while True:
        page = conversation_page(session, limit=3, cursor=cursor)
        seen += [item["id"] for item in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(ids, reverse=True)
    assert len(conversation_page(session, limit=7).items) == 7
    assert conversation_page(session, limit=7).next_cursor is None


def test_cursor_is_stable_when_conversations_arrive_between_pages(session):
    ids = _many(session, 5)
    first = conversation_page(session, limit=2)
    _many(session, 3, start=dt.datetime(2026, 3, 1))  # newer rows arrive meanwhile
    second = conversation_page(session, limit=2, cursor=first.next_cursor)
    assert [i["id"] for i in first.items + second.items] == sorted(ids, reverse=True)[:4]


def test_filters_by_channel_status_and_since(session):
    _many(session, 2, channel="sms", start=dt.datetime(2026, 1, 1))
    web = _many(session, 2, channel="web", start=dt.datetime(2026, 2, 1))
    c = session.get(Conversation, web[0])
    c.status = "closed"
    session.commit()
    assert {i["channel"] for i in conversation_page(session, channel="web").items} == {"web"}
    assert [i["id"] for i in conversation_page(session, status="closed").items] == [web[0]]
    since = conversation_page(session, since=dt.datetime(2026, 1, 15, tzinfo=dt.UTC)).items
    assert sorted(i["id"] for i in since) == sorted(web)


def test_read_back_shows_redacted_text_and_no_personal_identifiers(session):
    [cid] = _many(session, 1)
    item = conversation_page(session).items[0]
    assert item["first_message"] == "q0 <PHONE_NUMBER>" and item["messages"] == 2
    assert item["outcome"]["booking_converted"] is True and item["outcome"]["csat"] == 5
    detail = conversation_detail(session, cid)
    assert [m["text"] for m in detail["transcript"]] == ["q0 <PHONE_NUMBER>", "ok"]
    flat = repr(detail) + repr(item)
    assert "555-0100" not in flat and "external_user_id" not in flat and "raw" not in flat


@pytest.mark.parametrize("kwargs", [
    {"channel": "fax"}, {"status": "open"}, {"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"},
    {"cursor": encode_cursor(5)[:-2] + "!!"}, {"cursor": "YzE6LTE"},
    {"since": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))},
])
def test_bad_parameters_are_refused(session, kwargs):
    with pytest.raises(ValidationError):
        conversation_page(session, **kwargs)


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor(123)) == 123


def test_detail_of_an_unknown_id_is_not_found(session):
    for cid in (999_999, 0, -1, 2**40):
        with pytest.raises(NotFound):
            conversation_detail(session, cid)
