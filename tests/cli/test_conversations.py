"""`supportloop conversations list|show` (the read-back) through the command line."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from cli import main
from core.platform.config import get_settings
from core.platform.models import Message
from tests.factories import make_conversation

NOW = dt.datetime(2026, 3, 18, 12, 0)


@pytest.fixture
def run(db, tmp_path, monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(tmp_path / "var" / "idx"))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(main, list(args))
    get_settings.cache_clear()


@pytest.fixture
def stored(db):
    with db.session() as s:
        ids = [make_conversation(s, at=NOW - dt.timedelta(days=3 - i), channel=ch, status=st).id
               for i, (ch, st) in enumerate([("sms", "closed"), ("web", "ai"), ("sms", "ai")])]
        s.add(Message(conversation_id=ids[0], role="user", raw_content="I am Ann, 555-0100",
                      redacted_content="I am <PERSON>, <PHONE_NUMBER>", created_at=NOW))
        s.commit()
    return ids


def test_list_json_lines_with_filters(run, stored):
    r = run("conversations", "list", "--json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [row["id"] for row in rows] == sorted(stored, reverse=True)
    r = run("conversations", "list", "--json", "--channel", "sms", "--status", "ai")
    assert [json.loads(line)["id"] for line in r.output.splitlines()] == [stored[2]]
    since = (NOW - dt.timedelta(days=1, hours=12)).strftime("%Y-%m-%d %H:%M")
    r = run("conversations", "list", "--json", "--since", since)
    assert [json.loads(line)["id"] for line in r.output.splitlines()] == [stored[2]]
    r = run("conversations", "list", "--json", "--limit", "2")
    assert len(r.output.splitlines()) == 2


def test_list_table_and_bad_options(run, stored):
    r = run("conversations", "list")
    assert r.exit_code == 0 and r.output.splitlines()[0].split()[:3] == ["id", "channel", "status"]
    assert len(r.output.splitlines()) == 4
    assert run("conversations", "list", "--channel", "fax").exit_code == 2
    assert run("conversations", "list", "--limit", "0").exit_code == 2


def test_show_is_redacted_and_unknown_ids_fail(run, stored):
    r = run("conversations", "show", str(stored[0]), "--json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["transcript"][-1]["text"] == "I am <PERSON>, <PHONE_NUMBER>" and body["status"] == "closed"
    table = run("conversations", "show", str(stored[0]))
    assert table.exit_code == 0 and "<PHONE_NUMBER>" in table.output
    assert "555-0100" not in r.output + table.output
    missing = run("conversations", "show", str(max(stored) + 100))
    assert missing.exit_code == 1 and "does not exist" in missing.output
