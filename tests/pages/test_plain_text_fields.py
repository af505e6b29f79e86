"""Free text from customers is shown as plain text, never as markdown: an image link in an
escalation reason is not rendered (so the viewer's browser never fetches it)."""

import datetime as dt

from core.platform.models import Conversation, ConversationOutcome, Message
from tests.factories.dashboard import page, token_for

T = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)
REASON = "angry ![x](https://tracker.example/p.png) **now**"


def test_escalation_reason_is_plain_text(app_db, session):
    c = Conversation(channel="web", external_user_id="u", status="escalated", created_at=T, escalated_at=T,
                     escalation_reason=REASON)
    c.messages.append(Message(role="user", raw_content="hi", redacted_content="hi", created_at=T))
    c.outcome = ConversationOutcome(booking_converted=False)
    session.add(c)
    session.commit()
    at = page("conversations", token_for(app_db, "viewer")).run()
    at.selectbox[2].set_value(c.id).run()
    assert not at.exception
    assert REASON in [t.value for t in at.text]
    rendered = [e.value for kind in (at.markdown, at.warning, at.info, at.caption, at.success) for e in kind]
    assert not any("tracker.example" in str(v) for v in rendered)
