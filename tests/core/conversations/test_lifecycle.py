"""The conversation lifecycle (core.conversations.lifecycle): hand-off from the messages in every
store path, explicit and idle close, reopening, and what closing does to the outcome. Each test
runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.conversations import lifecycle
from core.conversations.ingest import add_message, import_file, store_conversations
from core.conversations.schemas import ConversationIn, MessageIn, OutcomeIn
from core.ops import tasks
from core.ops.metric_sql import window_metrics
from core.platform.clock import FixedClock
from core.platform.config import Settings
from core.platform.db import make_engine, upgrade
from core.platform.errors import NotFound, PermissionDenied
from core.platform.models import Conversation, ConversationOutcome
from core.platform.pii import get_scrubber
from core.platform.statuses import ConversationStatus, MessageRole
from tests.factories import ADMIN, REVIEWER, VIEWER
from tests.factories.database import PG_ADMIN_URL, postgres_unavailable

T0 = dt.datetime(2026, 3, 2, 9, 0)
CLOCK = FixedClock(T0)


@pytest.fixture(scope="session")
def scrubber():
    return get_scrubber(Settings(_env_file=None))


def _msgs(*roles: str, start: dt.datetime = T0) -> list[MessageIn]:
    return [
        MessageIn(role=r, content=f"message {i} from the {r}", created_at=start + dt.timedelta(minutes=i))
        for i, r in enumerate(roles)
    ]


def _store(session, scrubber, settings, *convs: ConversationIn) -> list[Conversation]:
    report = store_conversations(session, list(convs), scrubber, settings, CLOCK)
    return [session.get(Conversation, cid) for cid in report.conversation_ids]


def _conv(ext: str, *roles: str, channel: str = "sms", **kw) -> ConversationIn:
    return ConversationIn(channel=channel, external_user_id="u1", external_id=ext, messages=_msgs(*roles),
                          **kw)


# --- hand-off -----------------------------------------------------------------------------------
def test_the_first_agent_message_hands_off_a_stored_conversation(session, scrubber, settings):
    plain, handed, given, closed = _store(
        session, scrubber, settings,
        _conv("a", "user", "assistant"),
        _conv("b", "user", "assistant", "agent", "agent"),
        _conv("c", "user", "agent", escalated_at=T0, escalation_reason="asked for a person"),
        _conv("d", "user", "agent", status=ConversationStatus.CLOSED, closed_at=T0 + dt.timedelta(hours=1)),
    )
    assert (plain.status, plain.escalated_at) == (ConversationStatus.AI, None)
    assert handed.status == ConversationStatus.ESCALATED
    assert handed.escalated_at == T0 + dt.timedelta(minutes=2)  # the first agent message
    assert handed.escalation_reason == lifecycle.HANDOFF_REASON
    assert (given.escalated_at, given.escalation_reason) == (T0, "asked for a person")  # the source's own
    assert closed.status == ConversationStatus.CLOSED and closed.escalated_at is not None
    assert not closed.outcome.successful_outcome  # closed after a hand-off: not contained


def test_an_appended_agent_message_hands_off(session, scrubber, settings):
    (conv,) = _store(session, scrubber, settings, _conv("a", "user", "assistant"))
    at = T0 + dt.timedelta(minutes=30)
    add_message(session, conv.id, MessageIn(role=MessageRole.AGENT, content="Maria here", created_at=at),
                scrubber, settings, CLOCK)
    add_message(session, conv.id, MessageIn(role=MessageRole.AGENT, content="again", created_at=at
                                            + dt.timedelta(minutes=1)), scrubber, settings, CLOCK)
    assert (conv.status, conv.escalated_at, conv.escalation_reason) == (
        ConversationStatus.ESCALATED, at, lifecycle.HANDOFF_REASON)


def _import(session, scrubber, settings, tmp_path, name: str, text: str) -> Conversation:
    path = tmp_path / name
    path.write_text(text)
    report = import_file(session, path, scrubber, settings, clock=CLOCK)
    assert report.conversations_created == 1, report
    return session.scalar(select(Conversation).order_by(Conversation.id.desc()).limit(1))


def test_every_file_format_detects_the_hand_off(session, scrubber, settings, tmp_path):
    convs = {}
    line = {"external_id": "j1", "channel": "email", "external_user_id": "u", "messages": [
        {"role": "user", "content": "hello", "created_at": "2026-03-01T10:00:00Z"},
        {"role": "agent", "content": "Maria here", "created_at": "2026-03-01T10:05:00Z"}]}
    convs["jsonl"] = _import(session, scrubber, settings, tmp_path, "a.jsonl", json.dumps(line) + "\n")
    convs["csv"] = _import(session, scrubber, settings, tmp_path, "a.csv",
                           "conversation_id,channel,user_id,role,content,created_at\n"
                           "k1,sms,u,user,hello,2026-03-01T10:00:00\n"
                           "k1,sms,u,agent,Maria here,2026-03-01T10:05:00\n")
    convs["vtt"] = _import(session, scrubber, settings, tmp_path, "call.vtt",
                           "WEBVTT\n\nNOTE conversation_id: v1\n\n"
                           "00:00:01.000 --> 00:00:02.000\nCaller: hi\n\n"
                           "00:05:00.000 --> 00:05:02.000\nAgent Maria: Maria here\n")
    turns = [{"conversation_id": "t1", "user_id": "+15125550101", "created_at": "2026-03-01T10:00:00Z",
              "turns": [{"speaker": "caller", "text": "hi", "start": 0},
                        {"speaker": "staff", "text": "Maria here", "start": 300}]}]
    convs["turns"] = _import(session, scrubber, settings, tmp_path, "calls.json", json.dumps(turns))
    for fmt, conv in convs.items():
        agent_at = next(m.created_at for m in conv.messages if m.role == MessageRole.AGENT)
        assert conv.escalated_at == agent_at, fmt
        # a phone transcript is a finished call: closed, after a hand-off
        want = ConversationStatus.CLOSED if fmt in ("vtt", "turns") else ConversationStatus.ESCALATED
        assert conv.status == want, fmt
        assert conv.escalation_reason == lifecycle.HANDOFF_REASON, fmt


# --- closing ------------------------------------------------------------------------------------
def test_close_recomputes_the_outcome_and_is_idempotent(session, scrubber, settings):
    contained, handed = _store(session, scrubber, settings, _conv("a", "user", "assistant"),
                               _conv("b", "user", "agent"))
    assert not contained.outcome.successful_outcome
    later = FixedClock(T0 + dt.timedelta(hours=2))
    lifecycle.close_conversation(session, contained.id, actor=REVIEWER, resolution=" answered ", clock=later)
    lifecycle.close_conversation(session, handed.id, actor=ADMIN, clock=later)
    assert (contained.status, contained.closed_at, contained.resolution) == (
        ConversationStatus.CLOSED, later.now(), "answered")
    assert contained.outcome.successful_outcome and not handed.outcome.successful_outcome
    lifecycle.close_conversation(session, contained.id, actor=REVIEWER, resolution="other",
                                 clock=FixedClock(T0 + dt.timedelta(days=1)))
    assert (contained.closed_at, contained.resolution) == (later.now(), "answered")
    metrics = window_metrics(session, T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1))
    assert metrics["containment_rate"] == 0.5 and metrics["closed"] == 2


def test_close_checks_the_right_the_channel_and_the_id(session, scrubber, settings):
    (conv,) = _store(session, scrubber, settings, _conv("a", "user", "assistant", channel="sms"))
    with pytest.raises(PermissionDenied):
        lifecycle.close_conversation(session, conv.id, actor=VIEWER)
    with pytest.raises(NotFound, match="does not exist"):
        lifecycle.close_conversation(session, conv.id, actor=ADMIN, channel="email")
    with pytest.raises(NotFound, match="does not exist"):
        lifecycle.close_conversation(session, 987654, actor=ADMIN)
    assert conv.status == ConversationStatus.AI


def test_a_customer_message_reopens_a_closed_conversation(session, scrubber, settings):
    plain, handed = _store(session, scrubber, settings, _conv("a", "user", "assistant"),
                           _conv("b", "user", "agent"))
    for conv in (plain, handed):
        lifecycle.close_conversation(session, conv.id, actor=ADMIN, resolution="done", clock=CLOCK)
    assert plain.outcome.successful_outcome
    at = T0 + dt.timedelta(hours=3)
    for conv in (plain, handed):
        again = MessageIn(role=MessageRole.USER, content="one more thing", created_at=at)
        add_message(session, conv.id, again, scrubber, settings, CLOCK)
    assert (plain.status, plain.closed_at, plain.resolution) == (ConversationStatus.AI, None, None)
    assert handed.status == ConversationStatus.ESCALATED
    assert not plain.outcome.successful_outcome  # open again: not contained until it closes


def test_an_agent_note_after_closing_marks_the_hand_off_but_stays_closed(session, scrubber, settings):
    (conv,) = _store(session, scrubber, settings, _conv("a", "user", "assistant"))
    lifecycle.close_conversation(session, conv.id, actor=ADMIN, clock=CLOCK)
    add_message(session, conv.id, MessageIn(role=MessageRole.AGENT, content="followed up by phone",
                                            created_at=T0 + dt.timedelta(hours=1)), scrubber, settings, CLOCK)
    assert conv.status == ConversationStatus.CLOSED and conv.escalated_at is not None
    assert not conv.outcome.successful_outcome


def test_idle_conversations_close_in_batches(session, scrubber, settings):
    settings = settings.model_copy(update={"conversation_idle_minutes": 60})
    old = [_conv(f"old{i}", "user", "assistant") for i in range(5)]  # last message T0 + 1 min
    recent = ConversationIn(channel="sms", external_user_id="u", external_id="new",
                            messages=_msgs("user", "assistant", start=T0 + dt.timedelta(minutes=50)))
    convs = _store(session, scrubber, settings, *old, recent,
                   _conv("handed", "user", "agent"), _conv("shut", "user", status=ConversationStatus.CLOSED))
    now = FixedClock(T0 + dt.timedelta(minutes=90))
    assert lifecycle.close_idle(session, settings, now, actor=ADMIN, limit=4) == 4
    assert lifecycle.close_idle(session, settings, now, actor=ADMIN, limit=4) == 2
    assert lifecycle.close_idle(session, settings, now, actor=ADMIN, limit=4) == 0
    by_ext = {c.external_id: c for c in convs}
    assert by_ext["new"].status == ConversationStatus.AI
    assert by_ext["old0"].closed_at == T0 + dt.timedelta(minutes=61)  # last message + the idle window
    assert by_ext["old0"].outcome.successful_outcome
    handed = by_ext["handed"]
    assert handed.status == ConversationStatus.CLOSED and not handed.outcome.successful_outcome
    with pytest.raises(PermissionDenied):
        lifecycle.close_idle(session, settings, now, actor=REVIEWER)


# --- data fixes -------------------------------------------------------------------------------
def test_external_ids_are_unique_per_channel(session, scrubber, settings):
    first = store_conversations(session, [_conv("X1", "user", channel="sms")], scrubber, settings, CLOCK)
    other = store_conversations(session, [_conv("X1", "user", channel="email")], scrubber, settings, CLOCK)
    batch = [_conv("X1", "user", channel="sms"), _conv("X1", "user", channel="web"),
             _conv("X1", "user", channel="web")]
    again = store_conversations(session, batch, scrubber, settings, CLOCK)
    assert (first.conversations_created, other.conversations_created) == (1, 1)
    assert (again.conversations_created, again.conversations_skipped) == (1, 2)
    rows = session.execute(select(Conversation.channel).where(Conversation.external_id == "X1")).scalars()
    assert sorted(rows) == ["email", "sms", "web"]


def test_costs_keep_micro_dollars(session, scrubber, settings):
    msgs = _msgs("user", "assistant")
    msgs[1].cost_usd = 0.0000123
    (conv,) = _store(session, scrubber, settings, ConversationIn(channel="web", external_user_id="u",
                                                                 messages=msgs))
    assert conv.outcome.total_cost_usd == pytest.approx(0.000012, abs=1e-12)
    lifecycle.close_conversation(session, conv.id, actor=ADMIN, clock=CLOCK)
    metrics = window_metrics(session, T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1))
    assert metrics["cost_per_conversation_usd"] == 0.000012
    assert metrics["cost_per_resolution_usd"] == 0.000012


def test_an_imported_tone_score_is_kept(session, scrubber, settings):
    given = _conv("a", "user", "assistant", outcome=OutcomeIn(tone_score=0.9))
    (conv,) = _store(session, scrubber, settings, given)
    assert conv.outcome.tone_score == 0.9 and conv.outcome.computed_tone_score is None


def test_csv_with_an_undecodable_line_rejects_that_whole_conversation(session, scrubber, settings, tmp_path):
    p = tmp_path / "enc.csv"
    p.write_bytes(
        b"conversation_id,channel,user_id,role,content,created_at\n"
        b"k1,web,w1,user,hello,2025-03-01T10:00:00\n"
        b"k2,web,w2,user,hello,2025-03-01T10:00:00\n"
        b"k1,web,w1,assistant,Jos\xe9 here,2025-03-01T10:00:01\n"
        b"k1,web,w1,user,thanks,2025-03-01T10:00:02\n"
    )
    rejects = tmp_path / "r.jsonl"
    report = import_file(session, p, scrubber, settings, skip_invalid=True, rejects_path=rejects, clock=CLOCK)
    assert set(session.scalars(select(Conversation.external_id))) == {"k2"}
    assert report.rejected_conversations == 1 and report.conversations_created == 1
    rows = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in rows] == [(2, None), (4, "content"), (5, None)]
    assert "not UTF-8" in rows[1]["message"]


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path):
    """An empty database (no tables) per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    name = f"supportloop_m17_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "unreachable"
        postgres_unavailable(str(exc).splitlines()[0])
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migration_0017_keeps_rows_and_makes_ids_unique_per_channel(fresh_url, tmp_path, scrubber):
    url = fresh_url
    upgrade(url, "0001")  # before 0017: external_id unique across channels
    engine = make_engine(url)
    cid = "(SELECT id FROM conversation WHERE external_id = 'X1')"
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO conversation (external_id, channel, external_user_id, status, channel_metadata, "
            "created_at, updated_at) VALUES ('X1', 'sms', 'u', 'ai', '{}', '2026-01-01', '2026-01-01')"
        ))
        conn.execute(text(
            "INSERT INTO message (conversation_id, role, redacted_content, pii_entity_types, "
            "safe_for_training, human_edited, cost_usd, created_at) "
            f"VALUES ({cid}, 'assistant', 'hi', '[]', true, false, 0.30000000000000004, '2026-01-01')"
        ))
        conn.execute(text(
            "INSERT INTO conversation_outcome (conversation_id, booking_converted, successful_outcome, "
            "tone_score, down_votes, total_cost_usd, updated_at) "
            f"VALUES ({cid}, false, false, 0.7, 0, 0.30000000000000004, '2026-01-01')"
        ))
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(_env_file=None, database_url=url, data_dir=tmp_path)
    with Session(engine) as s:
        old = s.scalar(select(Conversation.id))
        email = store_conversations(s, [_conv("X1", "user", channel="email")], scrubber, settings, CLOCK)
        sms = store_conversations(s, [_conv("X1", "user", channel="sms")], scrubber, settings, CLOCK)
        s.commit()
        assert (email.conversations_created, sms.conversations_skipped) == (1, 1)
        x1 = select(Conversation.channel, Conversation.id).where(Conversation.external_id == "X1")
        assert sorted(tuple(r) for r in s.execute(x1)) == [("email", email.conversation_ids[0]), ("sms", old)]
        out = s.get(ConversationOutcome, old)
        assert (out.tone_score, out.computed_tone_score, out.total_cost_usd) == (0.7, None, 0.3)
        assert s.get(Conversation, old).resolution is None
        with pytest.raises(IntegrityError):  # the same id twice in one channel is refused
            s.execute(text(
                "INSERT INTO conversation (external_id, channel, external_user_id, status, channel_metadata, "
                "created_at, updated_at) VALUES ('X1', 'email', 'u', 'ai', '{}', '2026-01-01', '2026-01-01')"
            ))
    engine.dispose()


def test_the_runner_task_closes_idle_conversations_in_committed_batches(db, scrubber, settings, monkeypatch):
    with db.session() as s:
        _store(s, scrubber, settings, *[_conv(f"c{i}", "user", "assistant") for i in range(5)])
        s.commit()
    monkeypatch.setattr(tasks, "IDLE_BATCH", 2)
    later = FixedClock(T0 + dt.timedelta(minutes=settings.conversation_idle_minutes + 2))
    assert tasks.conversation_idle_close(tasks.TaskContext(db.factory, settings, later)) == {"closed": 5}
    with db.session() as s:
        statuses = s.scalars(select(Conversation.status)).all()
        assert statuses == [ConversationStatus.CLOSED] * 5
    assert "conversation_idle_close" in {t.name for t in tasks.default_registry(settings)}
