import datetime as dt

from core.platform.audit import history
from core.platform.models import Conversation, ConversationOutcome, Message
from tests.factories.dashboard import page, token_for

T = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)


def _seed(session):
    c = Conversation(channel="web", external_user_id="u", status="closed", created_at=T)
    c.messages.append(Message(role="user", raw_content="I am Ann Lee, what is the travel fee?",
                              redacted_content="I am <PERSON>, what is the travel fee?", created_at=T))
    c.messages.append(Message(role="assistant", raw_content="It is $50.", redacted_content="It is $50.",
                              confidence=0.9, created_at=T))
    c.outcome = ConversationOutcome(booking_converted=True, csat=5)
    d = Conversation(channel="sms", external_user_id="v", created_at=T)
    d.messages.append(Message(role="user", raw_content="Do you do birthdays?",
                              redacted_content="Do you do birthdays?", created_at=T))
    session.add_all([c, d])
    session.commit()
    return c.id, d.id


def _texts(at):
    return " ".join(t.value for t in at.text)


def test_anonymous_visitor_is_refused(app_db, session):
    _seed(session)
    at = page("conversations").run()
    assert not at.exception
    assert "log in" in at.warning[0].value.lower()
    assert not at.dataframe and not at.text


def test_viewer_sees_redacted_transcript_and_cannot_see_raw(app_db, session):
    cid, _ = _seed(session)
    at = page("conversations", token_for(app_db, "viewer")).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 2
    assert not at.toggle  # no raw-text switch for viewers
    at.selectbox[2].set_value(cid).run()
    assert "<PERSON>" in _texts(at) and "Ann Lee" not in _texts(at)


def test_full_text_search_finds_words_in_any_message(app_db, session):
    cid, other = _seed(session)
    at = page("conversations", token_for(app_db, "viewer")).run()
    at.text_input[0].input("travel fees").run()
    assert not at.exception
    assert list(at.dataframe[0].value["#"]) == [str(cid)]
    at.text_input[0].input("birthday").run()
    assert list(at.dataframe[0].value["#"]) == [str(other)]
    at.text_input[0].input("pizza").run()
    assert "No conversations match" in at.info[0].value


def test_admin_raw_view_is_audited(app_db, session):
    cid, _ = _seed(session)
    at = page("conversations", token_for(app_db, "admin")).run()
    at.selectbox[2].set_value(cid).run()
    at.toggle[0].set_value(True).run()
    assert not at.exception
    assert "Ann Lee" in _texts(at)
    with app_db.session() as s:
        assert [a.action for a in history(s, "conversation", cid)] == ["view_raw"]


def _metric(at, label: str) -> str:  # noqa: ANN001 - AppTest
    return next(m.value for m in at.metric if m.label == label)


def test_tiles_count_the_listed_period_and_the_list_pages_with_its_total(app_db, session):
    _seed(session)
    old = Conversation(channel="web", external_user_id="w", created_at=T - dt.timedelta(days=90))
    session.add(old)
    for i in range(55):
        session.add(Conversation(channel="email", external_user_id=f"e{i}", created_at=T))
    session.commit()
    at = page("conversations", token_for(app_db, "viewer")).run()
    assert not at.exception
    assert _metric(at, "All channels") == "57" and _metric(at, "Web") == "1"  # not the 90-day-old one
    assert _metric(at, "Email") == "55" and _metric(at, "SMS") == "1"
    assert "Conversations started" in at.caption[0].value and "30 days" in at.caption[0].value
    assert any("Conversations 1–50 of 57" in c.value for c in at.caption)
    next(n for n in at.number_input if n.label.startswith("Page")).set_value(2).run()
    assert any("Conversations 51–57 of 57" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == 7
    assert "Answered by the assistant" in set(at.dataframe[0].value["Status"])  # never the word "ai"


def test_a_link_opens_the_conversation(app_db, session):
    cid, other = _seed(session)
    at = page("conversations", token_for(app_db, "viewer"))
    at.query_params["conversation"] = str(other)
    at.run()
    assert not at.exception
    assert f"Conversation #{other}" in at.subheader[0].value and "birthdays" in _texts(at)
