"""`supportloop conversations close` through the command line (the lifecycle, docs/conversations.md)."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from cli import main
from core.access import auth
from core.platform.config import get_settings
from core.platform.models import Conversation
from core.platform.statuses import ConversationStatus, UserRole
from tests.factories import ADMIN, make_conversation

NOW = dt.datetime(2026, 3, 18, 12, 0)


@pytest.fixture
def run(db, tmp_path, monkeypatch):
    if db.backend == "postgresql":
        pytest.skip("the command is the same on both databases; core.conversations.lifecycle runs on both")
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(tmp_path / "var" / "idx"))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(main, [str(a) for a in args])
    get_settings.cache_clear()


def test_close_prints_the_closed_conversation(run, db):
    with db.session() as s:
        cid = make_conversation(s, at=NOW, status=ConversationStatus.AI).id
        s.commit()
    result = run("conversations", "close", cid, "--resolution", "booked by phone")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["conversation_id"], out["status"], out["resolution"]) == (cid, "closed", "booked by phone")
    assert out["successful_outcome"] and not out["handed_off"]
    with db.session() as s:
        conv = s.get(Conversation, cid)
        assert conv.status == ConversationStatus.CLOSED and conv.outcome.successful_outcome


def test_close_errors(run, db):
    with db.session() as s:
        cid = make_conversation(s, at=NOW, status=ConversationStatus.AI).id
        auth.create_user(s, "vera", UserRole.VIEWER, actor=ADMIN)
        s.commit()
    unknown = run("conversations", "close", cid + 1000)
    assert unknown.exit_code == 1 and "does not exist" in unknown.output
    denied = run("conversations", "close", cid, "--actor", "vera")
    assert denied.exit_code == 1 and "review" in denied.output
    assert run("conversations", "close", "0").exit_code == 2
