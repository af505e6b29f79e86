"""The local embedding fine-tune in the job runner, on SQLite and PostgreSQL, with the real MiniLM
and a tiny dataset (a handful of training steps): progress per step, the candidate KB version
through the gate, cancellation mid-training (by the job run or by an admin), and claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.knowledge import chunks as knowledge
from core.knowledge.refresh import weekly_refresh
from core.knowledge.versions import activate_version, build_version
from core.platform.clock import FixedClock
from core.platform.errors import Conflict
from core.platform.events import recent
from core.platform.models import FineTuneJob, KBVersion
from core.platform.progress import JobCancelled
from core.training.finetune.factory import default_provider_factory
from core.training.finetune.jobs import get_job, get_job_row, job_view
from core.training.finetune.launch import cancel, launch
from core.training.finetune.local_provider import read_pairs
from core.training.finetune.local_run import run_local_job
from core.training.finetune.polling import poll
from tests.factories import ADMIN
from tests.factories.knowledge import seed
from tests.factories.training import T0, Steps, approved_dataset


@pytest.fixture
def cfg(settings):
    """A handful of pairs in batches of two: a few training steps, seconds on a quiet machine."""
    return settings.model_copy(update={"dataset_min_examples": 4, "local_finetune_batch_size": 2})


def _queued_local_job(db, cfg, scrubber, minilm, *, kb: bool = True) -> tuple[int, int | None]:
    """A tiny KB served by MiniLM (active version) and a queued local fine-tune of 8 examples;
    returns (job id, active KB version id)."""
    with db.session() as s:
        active_id = None
        if kb:
            seed(s)
            v = build_version(s, minilm, cfg, actor=ADMIN)
            activate_version(s, v.id, cfg, actor=ADMIN, force=True)
            active_id = v.id
        ds_id = approved_dataset(s, cfg, scrubber, n=8)
        job = launch(s, cfg, ds_id, ADMIN, provider="local", clock=FixedClock(T0))
        s.commit()
    assert job.status == "queued"
    return job.id, active_id


def test_trains_with_progress_per_step_and_gates_a_candidate_kb_version(db, cfg, scrubber, minilm):
    job_id, active_id = _queued_local_job(db, cfg, scrubber, minilm)
    # the scheduled poll never trains a local job (training is the job runner's, with progress)
    with db.session() as s:
        poll(s, default_provider_factory(cfg), cfg, FixedClock(T0))
        s.commit()
        assert s.get(FineTuneJob, job_id).status == "queued"
    steps = Steps()
    done = run_local_job(db.factory, cfg, job_id, actor=ADMIN, progress=steps, base_embedder=minilm,
                         clock=FixedClock(T0))
    assert done.status == "succeeded", done.error
    training = [(d, t) for d, t, m in steps.reports if m.startswith("training the embedding model")]
    total = training[-1][1]
    assert training[0] == (0, total) and training[-1] == (total, total) and total == done.result["steps"] >= 2
    assert [d for d, _ in training] == list(range(total + 1))  # one report per optimizer step
    assert any(m.startswith("embedding the knowledge base") for _, _, m in steps.reports)
    assert done.fine_tuned_model.startswith("local:minilm-ft-") and done.actual_cost_usd == 0.0
    assert (Path(done.result["model_path"]) / "modules.json").exists()
    assert 4 <= done.result["pairs"] <= 8  # the train split (validation examples held out)
    with db.session() as s:
        kb = s.get(KBVersion, done.result["kb_version_id"])
        assert kb.model_id == done.fine_tuned_model and kb.eval_report["baseline_version_id"] == active_id
        assert kb.eval_report["per_question"]["question_ids"]  # gated question by question
        assert s.query(KBVersion).filter_by(status="active").one().id == active_id  # never activated
        if done.result["gate"] == "passed":
            assert kb.status == "candidate" and done.candidate_status == "offered"
        else:
            assert kb.status == "rejected" and done.candidate_status == "declined"
        assert recent(s, kind="finetune.succeeded")[0].details["job_id"] == job_id
    # a job is trained once: a second runner cannot claim it
    with pytest.raises(Conflict, match="only a queued local fine-tune"):
        run_local_job(db.factory, cfg, job_id, actor=ADMIN, base_embedder=minilm)


def test_the_kbs_questions_and_answers_train_too(db, cfg, scrubber, minilm):
    """An active chunk from a conversation joins the dataset's pairs (each pair once)."""
    with db.session() as s:
        seed(s)
        knowledge.propose_chunk(s, question="Do you bring plates and napkins?",
                                answer="Plates, napkins and chopsticks are included.", actor=ADMIN)
        assert weekly_refresh(s, minilm, cfg, actor=ADMIN).status == "activated"
        ds_id = approved_dataset(s, cfg, scrubber, n=8)
        job = launch(s, cfg, ds_id, ADMIN, provider="local", clock=FixedClock(T0))
        s.commit()
        in_file = read_pairs(job_view(cfg, get_job_row(s, job.id)).train_path)
    done = run_local_job(db.factory, cfg, job.id, actor=ADMIN, base_embedder=minilm, clock=FixedClock(T0))
    assert done.status == "succeeded", done.error
    assert done.result["pairs"] == len(set(in_file)) + 1


def test_a_cancelled_job_run_stops_between_steps_and_keeps_nothing(db, cfg, scrubber, minilm):
    job_id, _ = _queued_local_job(db, cfg, scrubber, minilm, kb=False)
    steps = Steps(cancel_after=1)  # the admin cancels the job run once the first step is done
    with pytest.raises(JobCancelled):
        run_local_job(db.factory, cfg, job_id, actor=ADMIN, progress=steps, base_embedder=minilm)
    trained = [d for d, _, m in steps.reports if m.startswith("training")]
    assert trained == [0, 1] and steps.reports[-1][1] > 1  # stopped after step 1 of several
    with db.session() as s:
        job = get_job(s, job_id)
        assert job.status == "cancelled" and job.fine_tuned_model is None
        assert recent(s, kind="finetune.cancelled")[0].details["job_id"] == job_id
    assert not any((Path(cfg.data_dir) / "models").glob("minilm-ft-*"))


def test_an_admin_cancelling_the_fine_tune_stops_the_training(db, cfg, scrubber, minilm):
    job_id, _ = _queued_local_job(db, cfg, scrubber, minilm, kb=False)

    def admin_cancels(done: int, total: int | None, message: str) -> None:
        if message.startswith("training") and done == 0:  # `supportloop finetune cancel` meanwhile
            with db.session() as s:
                cancel(s, cfg, job_id, ADMIN)
                s.commit()

    with pytest.raises(JobCancelled, match="cancelled by an admin"):
        run_local_job(db.factory, cfg, job_id, actor=ADMIN, progress=Steps(on_report=admin_cancels),
                      base_embedder=minilm)
    with db.session() as s:
        assert get_job(s, job_id).status == "cancelled"
    assert not any((Path(cfg.data_dir) / "models").glob("minilm-ft-*"))


def test_a_training_failure_fails_the_job_with_its_reason(db, cfg, scrubber, minilm, tmp_path):
    job_id, _ = _queued_local_job(db, cfg, scrubber, minilm, kb=False)
    broken = cfg.model_copy(update={"embedding_model_path": str(tmp_path / "no-model-here")})
    failed = run_local_job(db.factory, broken, job_id, actor=ADMIN, base_embedder=minilm)
    assert failed.status == "failed" and "no-model-here" in failed.error
    with db.session() as s:
        assert recent(s, kind="finetune.failed")[0].details["provider"] == "local"
    assert not any((Path(cfg.data_dir) / "models").glob("minilm-ft-*"))
