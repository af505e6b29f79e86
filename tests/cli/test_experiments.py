"""`supportloop experiment(s) ...` through the command line, on SQLite and PostgreSQL: start (as a
named admin account), status, compare, a refused promotion, stop, a start that says what is
missing, and the candidates of every kind (KB version, embedding model, chat model)."""

from click.testing import CliRunner

from cli import main
from core.access.auth import create_user
from core.platform.config import get_settings
from core.platform.models import Experiment, FineTuneJob
from tests.factories import ADMIN
from tests.factories.experiments import embedder_candidate, experiment_kb


def test_cli_start_status_compare_stop(db, session, settings, monkeypatch):
    kb = experiment_kb(session, settings)
    create_user(session, "alice", "admin", "correct-horse-1", actor=ADMIN)
    create_user(session, "victor", "viewer", "correct-horse-2", actor=ADMIN)
    session.commit()
    st = kb["settings"]
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(st.data_dir))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(st.index_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        start = ["experiment", "start", "--kind", "kb_version", "--kb-version", str(kb["v2"].id),
                 "--share", "0.5"]
        r = runner.invoke(main, [*start, "--actor", "victor"])
        assert r.exit_code == 1 and "manage_experiments" in r.output
        r = runner.invoke(main, [*start, "--actor", "alice"])
        assert r.exit_code == 0, r.output
        assert "running (split, 50% of users)" in r.output
        r = runner.invoke(main, ["experiment", "status"])
        assert r.exit_code == 0 and "running" in r.output and "kb_version" in r.output
        r = runner.invoke(main, ["experiment", "compare", "1"])
        assert r.exit_code == 0 and "recommendation: CONTINUE_TESTING" in r.output, r.output
        r = runner.invoke(main, ["experiment", "promote", "1", "--actor", "alice"])
        assert r.exit_code == 1 and "does not recommend promotion" in r.output
        r = runner.invoke(main, ["experiment", "stop", "1", "--actor", "alice", "--reason", "done"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["experiment", "start", "--actor", "alice"])
        assert r.exit_code == 1 and "Say what to test" in r.output
    finally:
        get_settings.cache_clear()


def test_cli_lists_candidates_and_starts_an_experiment_from_any_kind(db, session, settings, cli):
    kb = experiment_kb(session, settings)
    job, version = embedder_candidate(session, kb)
    create_user(session, "alice", "admin", "correct-horse-1", actor=ADMIN)
    session.commit()
    out = cli("experiments", "candidates")
    assert f"KB version {kb['v2'].id} (candidate" in out
    assert f"Embedding model local:hash-256 from fine-tune {job.id}, with KB version {version.id}" in out
    assert "supportloop experiments start --embedding-model local:hash-256" in out
    # an embedding model named by its id brings its KB version, and takes the fine-tune's candidate
    out = cli("experiments", "start", "--embedding-model", "local:hash-256", "--mode", "shadow",
              "--actor", "alice")
    assert "experiment 1 running (shadow, 10% of users)" in out
    # a KB version at the same time (one running experiment per kind)
    assert "experiment 2 running (split" in cli("experiments", "start", "--kb-version", kb["v2"].id,
                                                 "--actor", "alice")
    # any chat model name, once a chat API is configured
    out = cli("experiments", "start", "--chat-model", "gpt-4.1-mini", "--actor", "alice", code=1)
    assert "SUPPORTLOOP_OPENAI_BASE_URL" in out
    out = cli("experiments", "start", "--embedding-model", "nope", "--actor", "alice", code=1)
    assert "No succeeded local fine-tune made 'nope'" in out
    session.expire_all()
    assert session.get(FineTuneJob, job.id).candidate_status == "taken"
    exp = session.get(Experiment, 1)
    assert exp.candidate == {"embedding_model_path": "models/hash-256", "kb_version_id": version.id}
    assert "rolled back" in cli("experiments", "rollback", "1", "--actor", "alice", "--reason", "worse")
    assert "stopped" in cli("experiments", "stop", "2", "--actor", "alice", "--reason", "enough")
