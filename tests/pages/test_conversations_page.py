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
    assert list(at.dataframe[0].value["id"]) == [cid]
    at.text_input[0].input("birthday").run()
    assert list(at.dataframe[0].value["id"]) == [other]
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
