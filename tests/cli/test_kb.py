"""`supportloop kb ...` and `supportloop ask` through the command line (MiniLM, demo data)."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from core.knowledge.versions import active_version
from core.platform.config import get_settings
from core.platform.db import make_engine, session_factory

DATA = Path(__file__).resolve().parents[2] / "core" / "demo" / "data"


@pytest.fixture
def cli(db, settings, monkeypatch, minilm):
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(settings.index_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(main, [str(a) for a in args])
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, result.output
        return result

    yield run
    get_settings.cache_clear()


@pytest.mark.slow
def test_kb_commands_end_to_end(cli, tmp_path):
    assert "no active version" in cli("ask", "how much?", ok=False).output
    assert "no chunks" in cli("kb", "refresh", ok=False).output
    assert "76 created" in cli("kb", "import", DATA / "demo_kb.jsonl").output
    assert "102 evaluation questions" in cli("kb", "eval-import", DATA / "demo_eval.jsonl").output
    out = cli("kb", "refresh").output
    assert "refresh: activated" in out and "hit@1" in out
    assert "refresh: unchanged" in cli("kb", "refresh").output
    assert "--force runs here only" in cli("kb", "refresh", "--queue", "--force", ok=False).output
    assert "queued kb_refresh as job run" in cli("kb", "refresh", "--queue").output
    hits = json.loads(cli("kb", "search", "price for children", "-k", "3", "--json").output)
    assert len(hits) == 3 and hits[0]["external_id"] == "kb-price-kids"
    assert "kb-price-kids" in cli("kb", "search", "price for children").output
    one = json.loads(cli("ask", "How much do kids cost?").output)
    assert one["chunks"][0]["external_id"] == "kb-price-kids" and one["kb_version_id"] == 1
    assert set(one) >= {"answer", "confidence", "escalated", "chunks", "kb_version_id"}
    qfile = tmp_path / "q.txt"
    qfile.write_text("Do you travel to Napa?\n\nwho won the football game last night?\n", encoding="utf-8")
    lines = [json.loads(x) for x in cli("ask", "--file", qfile).output.splitlines()]
    assert len(lines) == 2 and lines[1]["escalated"] is True
    # batches of one and the single-question path decide the same
    ones = [json.loads(x) for x in cli("ask", "--file", qfile, "--batch-size", "1").output.splitlines()]
    singles = [json.loads(cli("ask", q).output) for q in ("Do you travel to Napa?",
                                                          "who won the football game last night?")]
    decision = ("answer", "confidence", "escalated", "chunks", "used_chunk_ids", "kb_version_id")
    for batch in (lines, ones):
        assert [[d[k] for k in decision] for d in batch] == [[d[k] for k in decision] for d in singles]
    assert "Give a QUESTION or --file" in cli("ask", ok=False).output
    # a second version, then rollback and activate by id
    edited = tmp_path / "edit.jsonl"
    edited.write_text(
        json.dumps(
            {
                "external_id": "kb-parking-new",
                "title": "Street parking",
                "text": "Guests can park on the street; the chef needs one spot near the gate.",
                "category": "logistics",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    cli("kb", "import", edited)
    assert "refresh: activated" in cli("kb", "refresh").output
    versions = cli("kb", "versions").output
    assert "* v2" in versions and "retired" in versions
    assert "KB version 1 is active" in cli("kb", "rollback").output
    assert "KB version 2 is active" in cli("kb", "activate", "2").output
    assert "already active" in cli("kb", "activate", "2", ok=False).output
    assert "does not exist" in cli("kb", "activate", "99", ok=False).output
    assert "v2: hit@1" in cli("kb", "evaluate").output
    export = tmp_path / "out.jsonl"
    assert "77 chunks written" in cli("kb", "export", export).output
    assert "unchanged" in cli("kb", "import", export).output
    assert "proposed" in cli("kb", "propose", "--text", "We also cater office lunches.").output
    assert "new" in cli("kb", "proposals").output
    assert "stale chunk(s)" in cli("kb", "stale").output
    assert "marked reviewed" in cli("kb", "reviewed", "1").output
    # a damaged active index file: a clear error, exit 1
    with session_factory(make_engine(get_settings().database_url))() as s:
        f = Path(get_settings().index_dir) / active_version(s).index_file
    f.write_bytes(b"broken")
    assert "fails its checksum" in cli("ask", "hello?", ok=False).output
