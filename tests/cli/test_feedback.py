"""`supportloop feedback ...` and `supportloop review ...` through the command line."""

from click.testing import CliRunner

from cli import main
from core.access.auth import create_user
from core.platform.config import get_settings
from tests.factories import ADMIN, make_answer


def test_feedback_and_review_cli(db, tmp_path, monkeypatch):
    with db.session() as s:
        _, _, ans = make_answer(s, confidence=0.1)
        ans_id = ans.id
        create_user(s, "ops", "reviewer", "correct-horse-1", actor=ADMIN)
        create_user(s, "watcher", "viewer", "correct-horse-2", actor=ADMIN)
        s.commit()
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(tmp_path / "var" / "idx"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        r = runner.invoke(main, ["feedback", "footer", str(ans_id)])
        assert r.exit_code == 0, r.output
        assert "Was this response helpful?" in r.output and "vote=up" in r.output and "<table" in r.output
        r = runner.invoke(main, ["feedback", "footer", str(ans_id + 50)])
        assert r.exit_code == 1 and "does not exist" in r.output
        r = runner.invoke(main, ["review", "refresh", "--days", "100000", "--actor", "watcher"])
        assert r.exit_code == 1 and "review" in r.output, r.output  # a viewer fills no queue
        r = runner.invoke(main, ["review", "refresh", "--days", "100000"])
        assert r.exit_code == 0 and "1 new review reason" in r.output, r.output
        r = runner.invoke(main, ["review", "list"])
        assert "low_confidence" in r.output
        item = r.output.split("#")[1].split(" ")[0]
        r = runner.invoke(main, ["review", "reject", item, "--actor", "watcher", "--reason", "wrong"])
        assert r.exit_code == 1, r.output
        r = runner.invoke(main, ["review", "reject", item, "--actor", "ops", "--reason", "wrong"])
        assert r.exit_code == 0 and f"rejected #{item}" in r.output, r.output
        assert runner.invoke(main, ["feedback", "stats", "--days", "3650"]).exit_code == 0
    finally:
        get_settings.cache_clear()
