"""core.conversations.retention: personal data older than the retention window is cleared in
every table (raw text dropped, identifiers hashed, free text scrubbed again); redacted text stays."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.conversations.retention import (
    HASH_PREFIX,
    is_contact,
    keyed_hash,
    purge,
    retention_cutoff,
)
from core.platform import events
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock
from core.platform.errors import PermissionDenied
from core.platform.models import (
    AuditLog,
    Conversation,
    Delivery,
    Feedback,
    Message,
    ReviewItem,
    Survey,
)
from core.platform.pii import get_scrubber
from core.platform.secrets import signing_secret
from core.platform.statuses import Channel, MessageRole
from tests.factories import ADMIN, REVIEWER

NOW = dt.datetime(2025, 6, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def scrubber():
    return get_scrubber()


def _messages(session, ages_days: list[float]) -> list[int]:
    conv = Conversation(channel=Channel.SMS, external_user_id="u", created_at=NOW)
    for age in ages_days:
        conv.messages.append(
            Message(
                role=MessageRole.USER,
                raw_content=f"raw {age}",
                redacted_content=f"red {age}",
                created_at=NOW - dt.timedelta(days=age),
            )
        )
    session.add(conv)
    session.flush()
    return [m.id for m in conv.messages]


def test_purge_nulls_only_old_raw_text(session, settings, scrubber):
    settings.retention_days = 30
    ids = _messages(session, [0, 29.9, 30.1, 400])
    clock = FixedClock(NOW)
    assert retention_cutoff(settings, clock) == NOW - dt.timedelta(days=30)
    report = purge(session, settings, clock, actor=ADMIN, scrubber=scrubber)
    assert report.cleared == {"message.raw_content": 2}
    session.commit()
    rows = {m.id: m for m in session.scalars(select(Message).execution_options(populate_existing=True))}
    assert [rows[i].raw_content is None for i in ids] == [False, False, True, True]
    assert all(rows[i].redacted_content.startswith("red") for i in ids)
    ev = events.recent(session, kind="retention.")[0]
    assert ev.details["messages"] == 2 and ev.details["cleared"] == {"message.raw_content": 2}


def test_purge_is_repeatable_and_follows_the_clock(session, settings, scrubber):
    _messages(session, [10, 100])
    clock = FixedClock(NOW)
    assert purge(session, settings, clock, actor=SYSTEM, scrubber=scrubber).total == 1  # default: 90 days
    assert purge(session, settings, clock, actor=SYSTEM, scrubber=scrubber).total == 0
    clock.advance(days=81)
    report = purge(session, settings, clock, actor=SYSTEM, scrubber=scrubber)
    assert report.cleared == {"message.raw_content": 1}


def test_purging_needs_the_run_jobs_right(session, settings):
    ids = _messages(session, [400])
    with pytest.raises(PermissionDenied, match="run_jobs"):
        purge(session, settings, FixedClock(NOW), actor=REVIEWER)
    assert session.get(Message, ids[0]).raw_content == "raw 400"


def test_contact_identifiers():
    assert is_contact("maria.lopez@example.com") and is_contact("+1 (415) 555-0132")
    assert is_contact("07700 063 966")
    assert not is_contact("ig_48213") and not is_contact("web-7f3a") and not is_contact("h:abc")
    a, b = keyed_hash("s", "Jo@Example.com"), keyed_hash("s", "jo@example.com ")
    assert a == b and a.startswith(HASH_PREFIX) and len(a) == 34 and keyed_hash("t", "jo@example.com") != a


def test_purge_covers_every_table(session, settings, scrubber):
    """Identifiers hashed with the signing secret (equality kept), free text scrubbed, every
    field counted; young rows are left alone."""
    settings.retention_days = 30
    old, young = NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=2)
    convs = []
    for at, who in ((old, "maria.lopez@example.com"), (young, "+1 415 555 0132")):
        conv = Conversation(
            channel=Channel.EMAIL, external_user_id=who, created_at=at,
            escalation_reason="call Maria Lopez at 415-555-0132",
            channel_metadata={"subject": "party", "from": "Maria Lopez <maria.lopez@example.com>",
                              "extra": {"phone": "415-555-0132"}},
        )
        msg = Message(role=MessageRole.ASSISTANT, raw_content="hi", redacted_content="hi", created_at=at,
                      human_edited=True, human_edit_content="Sure Maria Lopez, we will call 415-555-0132.",
                      edit_reason="add her number 415-555-0132")
        conv.messages.append(msg)
        session.add(conv)
        session.flush()
        session.add_all([
            Feedback(message_id=msg.id, conversation_id=conv.id, voter="maria.lopez@example.com", vote="up",
                     created_at=at,
                     updated_at=at, comment="my email is maria.lopez@example.com"),
            Survey(conversation_id=conv.id, status="failed", attempts=1, created_at=at,
                   last_error="550 mailbox maria.lopez@example.com unknown", comment="ok"),
            Delivery(message_id=msg.id, channel="email", status="failed", created_at=at, updated_at=at,
                     last_error="550 maria.lopez@example.com rejected"),
            ReviewItem(message_id=msg.id, kind="review", status="edited", created_at=at, updated_at=at,
                       decision_reason="spoke to Maria Lopez on 415-555-0132"),
            AuditLog(actor="a", action="review.edit", entity="review_item", entity_id="1", created_at=at,
                     after={"human_edit_content": "Sure Maria Lopez, we will call 415-555-0132."}),
        ])
        convs.append(conv)
    session.flush()
    report = purge(session, settings, FixedClock(NOW), actor=ADMIN, scrubber=scrubber)
    assert report.cleared == {
        "message.raw_content": 1,
        "conversation.external_user_id": 1,
        "feedback.voter": 1,
        "conversation.channel_metadata": 1,
        "message.human_edit_content": 1,
        "message.edit_reason": 1,
        "conversation.escalation_reason": 1,
        "feedback.comment": 1,
        "survey.last_error": 1,
        "delivery.last_error": 1,
        "review_item.decision_reason": 1,
        "audit_log.after": 1,
    }
    assert "feedback.voter: 1" in report.summary(30)
    session.commit()
    expected = keyed_hash(signing_secret(settings), "maria.lopez@example.com")
    old_c, young_c = (session.get(Conversation, c.id) for c in convs)
    assert old_c.external_user_id == expected and young_c.external_user_id == "+1 415 555 0132"
    assert old_c.channel_metadata["subject"] == "party"
    assert old_c.channel_metadata["extra"]["phone"].startswith(HASH_PREFIX)
    assert young_c.channel_metadata["extra"]["phone"] == "415-555-0132"
    voters = {f.voter for f in session.scalars(select(Feedback))}
    assert voters == {expected, "maria.lopez@example.com"}
    everything = " ".join(
        str(v) for model in (Conversation, Message, Feedback, Survey, Delivery, ReviewItem, AuditLog)
        for row in session.scalars(select(model).where(model.created_at < NOW - dt.timedelta(days=30)))
        for v in vars(row).values()
    )
    for planted in ("maria.lopez@example.com", "415-555-0132", "Maria Lopez"):
        assert planted not in everything
    # the next purge finds nothing new
    assert purge(session, settings, FixedClock(NOW), actor=ADMIN, scrubber=scrubber).total == 0
