"""The Experiments page in AppTest, on SQLite and PostgreSQL: start from any candidate (KB version,
embedding model, chat model), the comparison in plain words (no raw JSON, no internal status
words), promote and roll back a promotion, stop, queue the embedding fine-tune, and what a viewer
may not do."""

from __future__ import annotations

from sqlalchemy import select

from core.platform.models import Experiment, FineTuneJob, JobRun
from tests.factories.dashboard import button, page, token_for
from tests.factories.experiments import embedder_candidate, experiment_kb

INTERNAL = ("kb_version", "embedding_model", "chat_model", "CONTINUE_TESTING", "rolled_back", "running")


def _widget(items, label):  # noqa: ANN001, ANN202 - Streamlit testing elements
    return next(w for w in items if w.label == label)


def _texts(at) -> str:  # noqa: ANN001 - an AppTest
    parts = [m.value for m in at.metric] + [m.label for m in at.metric] + [c.value for c in at.caption]
    for frame in at.dataframe:
        parts += [str(c) for c in frame.value.columns] + [str(v) for v in frame.value.to_numpy().ravel()]
    return " ".join(parts)


def test_admin_starts_from_any_candidate_compares_promotes_and_rolls_back(app_db, session, settings):
    kb = experiment_kb(session, settings)
    job, version = embedder_candidate(session, kb)
    session.commit()
    at = page("experiments", token_for(app_db, "admin", "ada")).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Candidates ready to test"] == "2"
    # a KB version, split traffic
    assert _widget(at.radio, "What to test").value == "kb_version"
    button(at, "Start experiment").click().run()
    assert not at.exception and not at.error
    # the fine-tuned embedding model with its KB version, in shadow
    at.radio[0].set_value("embedding_model").run()
    assert "Embedding model local:hash-256 from fine-tune" in _widget(at.selectbox, "Candidate").options[0]
    _widget(at.selectbox, "How").set_value("shadow").run()
    button(at, "Start experiment").click().run()
    assert not at.exception and not at.error
    # a chat model needs a chat API: the page says so, nothing starts
    at.radio[0].set_value("chat_model").run()
    _widget(at.text_input, "Chat model").input("gpt-4.1-mini").run()
    button(at, "Start experiment").click().run()
    assert "SUPPORTLOOP_OPENAI_BASE_URL" in at.error[0].value
    with app_db.session() as s:
        exps = {e.kind: e for e in s.scalars(select(Experiment))}
        assert set(exps) == {"kb_version", "embedding_model"}
        assert exps["embedding_model"].mode == "shadow" and exps["embedding_model"].candidate == {
            "embedding_model_path": "models/hash-256", "kb_version_id": version.id}
        assert s.get(FineTuneJob, job.id).candidate_status == "taken"
        kb_exp, other = exps["kb_version"].id, exps["embedding_model"].id
    # the comparison: tables in plain words, never JSON or internal words
    at = page("experiments", token_for(app_db, "admin", "ada2")).run()
    _widget(at.selectbox, "Experiment").set_value(kb_exp).run()
    assert not at.exception and not at.json
    shown = _texts(at)
    assert "Keep testing" in shown and "Production: KB v1" in shown and "Containment" in shown
    assert "Knowledge base version" in shown and "Running" in shown
    assert not [w for w in INTERNAL if w in shown], shown
    # promote (forced: too little data for a recommendation), then undo the promotion
    _widget(at.checkbox, "Promote even though the comparison does not recommend it yet").check().run()
    _widget(at.text_input, "Reason (kept in the audit log)").input("looks better").run()
    button(at, "Promote candidate").click().run()
    assert not at.exception and not at.error
    _widget(at.selectbox, "Experiment").set_value(kb_exp).run()
    _widget(at.text_input, "Reason (kept in the audit log)").input("customers complained").run()
    button(at, "Roll back the promotion").click().run()
    assert not at.exception and not at.error
    # stop the shadow test
    _widget(at.selectbox, "Experiment").set_value(other).run()
    _widget(at.text_input, "Reason (kept in the audit log)").input("enough").run()
    button(at, "Stop without a winner").click().run()
    with app_db.session() as s:
            assert {e.id: e.status for e in s.scalars(select(Experiment))} == {kb_exp: "rolled_back",
                                                                          other: "stopped"}
    assert "Rolled back" in _texts(at.run()) and "Stopped" in _texts(at)


def test_admin_queues_the_embedding_fine_tune_and_a_viewer_only_reads(app_db, session, settings):
    kb = experiment_kb(session, settings)
    session.commit()
    at = page("experiments", token_for(app_db, "admin", "ada")).run()
    button(at, "Train a candidate embedder now").click().run()
    assert not at.exception and "Embedding fine-tune queued as job run" in at.success[0].value
    with app_db.session() as s:
        run = s.scalar(select(JobRun))
        assert (run.job, run.status, run.requested_by) == ("embedding_finetune", "queued", "ada")
    at = page("experiments", token_for(app_db, "viewer", "vic")).run()
    assert not at.exception and "No experiment yet" in at.info[0].value
    labels = {b.label for b in at.button}
    assert not labels & {"Start experiment", "Train a candidate embedder now", "Promote candidate"}
    assert kb["v2"].id
