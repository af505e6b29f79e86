"""File formats (core.conversations.importers through core.conversations.ingest.import_file): each
format imports, and every kind of bad input is reported with file, line and field."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from core.conversations.importers import detect_format, parse_file
from core.conversations.ingest import import_file
from core.conversations.schemas import validate_conversation
from core.platform.clock import FixedClock
from core.platform.config import Settings
from core.platform.errors import ImportFailed, NotFound, ValidationError
from core.platform.models import Conversation, Message
from core.platform.pii import get_scrubber

T0 = dt.datetime(2025, 3, 1, 10, 0, 0)
CLOCK = FixedClock(dt.datetime(2025, 3, 5, 12, 0, 0))


@pytest.fixture(scope="session")
def scrubber():
    return get_scrubber(Settings(_env_file=None))


def _settings(**kw) -> Settings:
    return Settings(_env_file=None, **kw)


def _conv(ext="c1", channel="web", **kw) -> dict:
    d = {
        "external_id": ext,
        "channel": channel,
        "external_user_id": "u1",
        "messages": [
            {
                "role": "user",
                "content": "How much is hibachi for 20 people?",
                "created_at": "2025-03-01T10:00:00Z",
            },
            {
                "role": "assistant",
                "content": "It is $60 per adult with a $600 minimum.",
                "created_at": "2025-03-01T10:00:05Z",
            },
        ],
    }
    d.update(kw)
    return d


def _jsonl(tmp_path, *items, name="convs.jsonl") -> str:
    p = tmp_path / name
    p.write_text("\n".join(i if isinstance(i, str) else json.dumps(i) for i in items) + "\n")
    return p


def _problems(path, fmt=None, **settings_kw):
    parsed = parse_file(path, detect_format(path, fmt), _settings(**settings_kw))
    return parsed


def _fail(session, scrubber, path, **kw) -> list:
    with pytest.raises(ImportFailed) as exc:
        import_file(session, path, scrubber, kw.pop("settings", _settings()), clock=CLOCK, **kw)
    return [(p.line, p.field, p.message) for p in exc.value.problems]


# --- detection --------------------------------------------------------------------------
def test_format_from_extension_or_flag(tmp_path):
    assert detect_format(tmp_path / "a.jsonl") == "jsonl"
    assert detect_format(tmp_path / "a.CSV") == "csv"
    assert detect_format(tmp_path / "call.vtt") == "vtt"
    assert detect_format(tmp_path / "calls.json") == "turns"
    assert detect_format(tmp_path / "a.txt", "csv") == "csv"
    with pytest.raises(ValidationError, match="--format"):
        detect_format(tmp_path / "a.txt")
    with pytest.raises(ValidationError, match="Unknown import format"):
        detect_format(tmp_path / "a.csv", "xml")


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        parse_file(tmp_path / "nope.jsonl", "jsonl", _settings())


# --- JSONL errors (no database needed to find them) ----------------------------------------
def _jsonl_problems(tmp_path, *lines, **kw):
    parsed = _problems(_jsonl(tmp_path, *lines), **kw)
    out = []
    for item in parsed.conversations:
        out += [(p.line, p.field, p.message) for p in item.problems]
        if item.conversation is not None:
            out += [
                (p.line, p.field, p.message)
                for p in (
                    item.problem(f, m) for f, m in validate_conversation(item.conversation, _settings(**kw))
                )
            ]
    return out


def test_jsonl_bad_json_has_line_and_column(tmp_path):
    probs = _jsonl_problems(tmp_path, _conv("a"), '{"channel": "web",', _conv("b"))
    assert len(probs) == 1
    line, field, msg = probs[0]
    assert (line, field) == (2, None) and msg.startswith("bad JSON") and "column" in msg


def test_jsonl_unknown_channel_role_empty_text_and_too_long(tmp_path):
    long = _conv("d")
    long["messages"][1]["content"] = "x" * 101
    empty = _conv("c")
    empty["messages"][0]["content"] = "   "
    role = _conv("b")
    role["messages"][1]["role"] = "robot"
    probs = _jsonl_problems(
        tmp_path, _conv("a", channel="telegram"), role, empty, long, max_message_chars=100
    )
    fields = {(line, field) for line, field, _ in probs}
    assert fields == {
        (1, "channel"),
        (2, "messages[1].role"),
        (3, "messages[0].content"),
        (4, "messages[1].content"),
    }
    msgs = " ".join(m for _, _, m in probs)
    assert "unknown channel 'telegram'" in msgs and "unknown role 'robot'" in msgs
    assert "is empty" in msgs and "limit is 100" in msgs


def test_jsonl_bad_timestamp_missing_field_and_unknown_field(tmp_path):
    bad_ts = _conv("a")
    bad_ts["messages"][0]["created_at"] = "yesterday"
    missing = _conv("b")
    del missing["channel"]
    typo = _conv("c", chanel="web")
    probs = _jsonl_problems(tmp_path, bad_ts, missing, typo)
    assert (1, "messages[0].created_at") in {(a, b) for a, b, _ in probs}
    assert any(p[:2] == (2, "channel") and "missing" in p[2] for p in probs)
    assert any(p[:2] == (3, "chanel") and "unknown field" in p[2] for p in probs)
    assert any("bad timestamp 'yesterday'" in p[2] for p in probs)


def test_undecodable_bytes_are_reported_on_their_line(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(json.dumps(_conv("a")).encode() + b"\n" + '{"x": "caf\xe9"}'.encode("latin-1") + b"\n")
    probs = _problems(p).conversations
    assert [(c.line, [q.message for q in c.problems]) for c in probs if c.problems][0][0] == 2
    assert "not UTF-8" in probs[1].problems[0].message


# --- import on both databases ----------------------------------------------------------------
def test_jsonl_import_and_counts(session, scrubber, tmp_path):
    path = _jsonl(tmp_path, _conv("a"), _conv("b", channel="email"))
    report = import_file(session, path, scrubber, _settings(), clock=CLOCK)
    assert (report.conversations_created, report.messages_created) == (2, 4)
    conv = session.scalar(select(Conversation).where(Conversation.external_id == "a"))
    assert conv.created_at == T0 and conv.first_response_at == T0 + dt.timedelta(seconds=5)


def test_bad_row_means_nothing_written(session, scrubber, tmp_path):
    path = _jsonl(tmp_path, _conv("a"), _conv("b"), _conv("c", channel="fax"), _conv("d"))
    probs = _fail(session, scrubber, path)
    assert probs == [(3, "channel", probs[0][2])]
    assert session.scalar(select(func.count()).select_from(Conversation)) == 0
    assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_import_failed_message_names_file_line_and_field(session, scrubber, tmp_path):
    path = _jsonl(tmp_path, _conv("a", channel="fax"))
    with pytest.raises(ImportFailed) as exc:
        import_file(session, path, scrubber, _settings(), clock=CLOCK)
    assert f"{path}:1: channel: unknown channel 'fax'" in str(exc.value)
    assert "--skip-invalid" in str(exc.value)


def test_skip_invalid_writes_valid_rows_and_rejects_file(session, scrubber, tmp_path):
    bad = _conv("b")
    bad["messages"][0]["role"] = "customer"
    path = _jsonl(tmp_path, _conv("a"), bad, "not json", _conv("c"))
    rejects = tmp_path / "out" / "rejects.jsonl"
    report = import_file(
        session, path, scrubber, _settings(), skip_invalid=True, rejects_path=rejects, clock=CLOCK
    )
    assert report.conversations_created == 2 and report.rejected_rows == 2
    stored = set(session.scalars(select(Conversation.external_id)))
    assert stored == {"a", "c"}
    rows = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in rows] == [(2, "messages[0].role"), (3, None)]
    assert rows[0]["raw"] == json.dumps(bad) and rows[1]["raw"] == "not json"
    assert rows[1]["message"].startswith("bad JSON")


def test_skip_invalid_default_rejects_path(session, scrubber, tmp_path):
    path = _jsonl(tmp_path, _conv("a"), "[]")
    report = import_file(session, path, scrubber, _settings(), skip_invalid=True, clock=CLOCK)
    assert report.rejects_path == str(tmp_path / "convs.jsonl.rejects.jsonl")


def test_reimport_creates_no_duplicates_with_and_without_ids(session, scrubber, tmp_path):
    no_id = _conv(None)
    del no_id["external_id"]
    twin = dict(no_id)
    path = _jsonl(tmp_path, _conv("a"), no_id, twin)  # identical rows stay two conversations
    first = import_file(session, path, scrubber, _settings(), clock=CLOCK)
    session.commit()
    again = import_file(session, path, scrubber, _settings(), clock=CLOCK)
    assert (first.conversations_created, again.conversations_created) == (3, 0)
    assert again.conversations_skipped == 3
    assert session.scalar(select(func.count()).select_from(Message)) == 6


def test_csv_groups_rows_into_conversations(session, scrubber, tmp_path):
    p = tmp_path / "msgs.csv"
    p.write_text(
        "conversation_id,channel,user_id,role,content,created_at,cost_usd,status,csat\n"
        'k1,facebook,fb-1,user,"Do you travel to Austin, TX?",2025-03-01T10:00:00,,closed,5\n'
        "k2,instagram,ig-9,user,Price for kids?,2025-03-01T11:00:00,,,\n"
        "k1,facebook,fb-1,assistant,Yes within 50 miles,2025-03-01T10:01:00,0.01,,\n"
    )
    report = import_file(session, p, scrubber, _settings(), clock=CLOCK)
    assert (report.conversations_created, report.messages_created) == (2, 3)
    k1 = session.scalar(select(Conversation).where(Conversation.external_id == "k1"))
    assert [m.role for m in k1.messages] == ["user", "assistant"]
    assert k1.status == "closed" and k1.outcome.csat == 5 and k1.outcome.successful_outcome
    assert k1.outcome.first_response_time_seconds == 60 and k1.outcome.total_cost_usd == 0.01


def test_csv_errors_have_line_and_column(session, scrubber, tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text(
        "conversation_id,channel,user_id,role,content,created_at,tokens_in\n"
        "k1,web,w1,user,hello,2025-03-01T10:00:00,\n"
        "k1,web,w1,bot,hi,2025-03-01T10:00:00,\n"
        "k2,pager,w2,user,hello,2025-03-01T10:00:00,\n"
        "k3,web,w3,user,,2025-03-01T10:00:00,\n"
        "k4,web,w4,user,hey,03/01/2025,\n"
        "k5,web,w5,user,hey,2025-03-01T10:00:00,many\n"
        "k6,web,w6,user\n"
    )
    probs = _fail(session, scrubber, p)
    assert [(line, field) for line, field, _ in probs] == [
        (3, "role"),
        (4, "channel"),
        (5, "content"),
        (6, "created_at"),
        (7, "tokens_in"),
        (8, None),
    ]
    assert "row has 4 fields" in probs[-1][2]
    assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_csv_missing_column_fails_even_with_skip_invalid(session, scrubber, tmp_path):
    p = tmp_path / "cols.csv"
    p.write_text("conversation_id,channel,role,content,created_at\nk1,web,user,hi,2025-03-01T10:00:00\n")
    probs = _fail(session, scrubber, p, skip_invalid=True)
    assert probs[0][:2] == (1, "user_id") and "missing column" in probs[0][2]


def test_csv_skip_invalid_rejects_whole_conversation(session, scrubber, tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_text(
        "conversation_id,channel,user_id,role,content,created_at\n"
        "k1,web,w1,user,hello,2025-03-01T10:00:00\n"
        "k2,web,w2,user,hello,2025-03-01T10:00:00\n"
        "k1,web,w1,wizard,hi,2025-03-01T10:00:01\n"
    )
    rejects = tmp_path / "r.jsonl"
    report = import_file(
        session, p, scrubber, _settings(), skip_invalid=True, rejects_path=rejects, clock=CLOCK
    )
    assert set(session.scalars(select(Conversation.external_id))) == {"k2"}
    rows = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in rows] == [(2, None), (4, "role")]
    assert rows[1]["raw"]["role"] == "wizard" and "rejected with its conversation" in rows[0]["message"]
    assert report.rejected_conversations == 1


def test_csv_undecodable_bytes(session, scrubber, tmp_path):
    p = tmp_path / "enc.csv"
    p.write_bytes(
        b"conversation_id,channel,user_id,role,content,created_at\n"
        b"k1,web,w1,user,hello,2025-03-01T10:00:00\n"
        b"k2,web,w2,user,Jos\xe9 here,2025-03-01T10:00:00\n"
    )
    probs = _fail(session, scrubber, p)
    assert probs[0][:2] == (3, "content") and "not UTF-8" in probs[0][2]


VTT = """WEBVTT

NOTE conversation_id: call-77
NOTE user_id: +15125550000

1
00:00:01.000 --> 00:00:04.000
<v Caller>Hi, I'd like to book hibachi for Saturday.

2
00:00:04.500 --> 00:00:06.000
<v Caller>For about thirty guests.</v>

3
00:00:07.000 --> 00:00:09.000
<v AI>Great! It's $60 per adult.

00:00:10.000 --> 00:00:12.000
Agent Maria: Let me take the deposit.
"""


def test_vtt_transcript(session, scrubber, tmp_path):
    p = tmp_path / "call.vtt"
    p.write_text(VTT)
    clock = FixedClock(T0)
    report = import_file(session, p, scrubber, _settings(), clock=clock)
    assert report.messages_created == 3  # the two caller cues are one message
    conv = session.scalar(select(Conversation))
    assert (conv.channel, conv.external_id, conv.external_user_id) == ("phone", "call-77", "+15125550000")
    assert [m.role for m in conv.messages] == ["user", "assistant", "agent"]
    assert (
        conv.messages[0].raw_content == "Hi, I'd like to book hibachi for Saturday. For about thirty guests."
    )
    assert conv.first_response_at == T0 + dt.timedelta(seconds=7)
    assert conv.escalated_at == T0 + dt.timedelta(seconds=10)  # a human agent took over
    assert conv.outcome.first_response_time_seconds == 6


def test_vtt_external_id_from_file_name_and_errors(session, scrubber, tmp_path):
    p = tmp_path / "call-2025-03-01-001.vtt"
    p.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCustomer: hi\n\n"
        "00:00:03.000 --> 00:00:04.000\nWaiter: hello\n\n"
        "00:00:xx --> 00:00:06.000\nCustomer: ok\n\n"
        "00:00:07.000 --> 00:00:08.000\n<v Bot></v>\n"
    )
    probs = _fail(session, scrubber, p)
    assert [(line, field) for line, field, _ in probs] == [(7, "speaker"), (9, "timestamp"), (13, "text")]
    assert "unknown speaker 'Waiter'" in probs[0][2]
    p.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCustomer: hi\n")
    import_file(session, p, scrubber, _settings(), clock=CLOCK)
    assert session.scalar(select(Conversation.external_id)) == "call-2025-03-01-001"


def test_vtt_without_header_is_refused(session, scrubber, tmp_path):
    p = tmp_path / "x.vtt"
    p.write_text("00:00:01.000 --> 00:00:02.000\nCustomer: hi\n")
    assert _fail(session, scrubber, p)[0][:2] == (1, None)


def test_json_speaker_turns(session, scrubber, tmp_path):
    calls = [
        {
            "conversation_id": "t1",
            "user_id": "+15125550101",
            "created_at": "2025-03-01T10:00:00Z",
            "turns": [
                {"speaker": "caller", "text": "Do you do vegetarian?", "start": 0},
                {"speaker": "assistant", "text": "Yes, tofu and vegetables.", "start": "00:00:03.5"},
            ],
        },
        {
            "conversation_id": "t2",
            "user_id": "+15125550102",
            "turns": [
                {"speaker": "customer", "text": "Cancel my booking", "start": 1.0},
                {"speaker": "staff", "text": "Done.", "start": 9},
            ],
        },
    ]
    p = tmp_path / "calls.json"
    p.write_text(json.dumps(calls, indent=2))
    report = import_file(session, p, scrubber, _settings(), clock=FixedClock(T0))
    assert report.messages_created == 4
    t1 = session.scalar(select(Conversation).where(Conversation.external_id == "t1"))
    assert t1.channel == "phone" and t1.outcome.first_response_time_seconds == 3.5
    t2 = session.scalar(select(Conversation).where(Conversation.external_id == "t2"))
    assert [m.role for m in t2.messages] == ["user", "agent"] and t2.escalated_at is not None


def test_json_speaker_turns_errors_name_the_turn(session, scrubber, tmp_path):
    p = tmp_path / "calls.json"
    p.write_text(
        json.dumps(
            {
                "user_id": "u",
                "turns": [
                    {"speaker": "caller", "text": "hi", "start": 0},
                    {"speaker": "parrot", "text": "", "start": "soon"},
                ],
            }
        )
    )
    probs = {(line, field) for line, field, _ in _fail(session, scrubber, p)}
    assert probs == {(1, "turns[1].speaker"), (1, "turns[1].start"), (1, "turns[1].text")}
    p.write_text('[\n{"user_id": "u", "turns": []},\n{"user_id": "u" "turns": []}\n]')
    probs = _fail(session, scrubber, p)
    assert (2, "turns") in {(a, b) for a, b, _ in probs}
    assert any(line == 3 and m.startswith("bad JSON") for line, _, m in probs)
