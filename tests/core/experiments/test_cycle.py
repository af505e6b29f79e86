"""The embedding fine-tune in the loop, on SQLite and PostgreSQL, with the real MiniLM and a handful
of training steps: approved and corrected answers -> dataset -> candidate embedder -> candidate KB
version through the gate -> a shadow experiment; promotion stays an admin's. And when it skips."""

from __future__ import annotations

import pytest

from core.experiments.cycle import CycleOutcome, embedding_finetune_cycle
from core.knowledge.versions import activate_version, build_version
from core.platform.clock import FixedClock
from core.platform.errors import PermissionDenied
from core.platform.models import DatasetVersion, Experiment, FineTuneJob, KBVersion
from core.platform.statuses import TrainingSource
from tests.factories import ADMIN, REVIEWER
from tests.factories.experiments import experiment_kb, start_kb_experiment
from tests.factories.knowledge import seed
from tests.factories.training import T0, Steps, add_example


@pytest.fixture
def cfg(settings):
    """A handful of pairs in batches of two: a few training steps."""
    return settings.model_copy(update={"dataset_min_examples": 4, "local_finetune_batch_size": 2})


def _examples(session, n: int) -> None:
    """``n`` gold examples: approved ones and admin corrections (edited), plus ones the loop
    must not learn from (unverified, imported)."""
    for i in range(n):
        add_example(session, i, source=TrainingSource.EDITED if i % 2 else TrainingSource.APPROVED)
    add_example(session, 100, human_verified=False)
    add_example(session, 101, source=TrainingSource.IMPORTED)
    session.commit()


def test_a_cycle_trains_gates_and_starts_a_shadow_experiment(db, cfg, scrubber, minilm):
    with db.session() as s:
        seed(s)
        v = build_version(s, minilm, cfg, actor=ADMIN)
        activate_version(s, v.id, cfg, actor=ADMIN, force=True)
        _examples(s, 8)
    steps = Steps()
    report = embedding_finetune_cycle(db.factory, cfg, actor=ADMIN, scrubber=scrubber, base_embedder=minilm,
                                      progress=steps, clock=FixedClock(T0))
    assert report.outcome == CycleOutcome.EXPERIMENT_STARTED, report.reason
    assert "An admin promotes it" in report.reason and report.examples == 8
    assert any(m.startswith("training the embedding model: step 1 of") for _, _, m in steps.reports)
    with db.session() as s:
        ds = s.get(DatasetVersion, report.dataset_version_id)
        assert ds.status == "approved" and ds.decided_by == ADMIN.name
        assert ds.filters["sources"] == ["approved", "edited"] and ds.filters["human_verified"] is True
        job = s.get(FineTuneJob, report.finetune_job_id)
        assert job.status == "succeeded" and job.candidate_status == "taken"
        exp = s.get(Experiment, report.experiment_id)
        assert (exp.kind, exp.mode, exp.status) == ("embedding_model", "shadow", "running")
        assert exp.candidate == {"embedding_model_path": job.result["model_path"],
                                 "kb_version_id": report.kb_version_id}
        assert exp.control["kb_version_id"] == v.id and exp.finetune_job_id == job.id
        # nothing is promoted by the loop: the active version and its model keep serving
        assert s.query(KBVersion).filter_by(status="active").one().id == v.id
        assert s.get(KBVersion, report.kb_version_id).status == "candidate"
    # the next cycle waits for this experiment's decision
    again = embedding_finetune_cycle(db.factory, cfg, actor=ADMIN, scrubber=scrubber, base_embedder=minilm)
    assert again.outcome == CycleOutcome.SKIPPED and f"experiment {report.experiment_id}" in again.reason


def test_a_cycle_without_enough_approved_answers_trains_nothing(db, cfg, scrubber):
    report = embedding_finetune_cycle(db.factory, cfg, actor=ADMIN, scrubber=scrubber)
    assert report.outcome == CycleOutcome.SKIPPED and report.reason.startswith("no dataset")
    with db.session() as s:
        _examples(s, 3)  # below dataset_min_examples (4): the dataset is built, then rejected
    report = embedding_finetune_cycle(db.factory, cfg, actor=ADMIN, scrubber=scrubber)
    assert report.outcome == CycleOutcome.SKIPPED and "needs at least 4" in report.reason
    with db.session() as s:
        assert s.get(DatasetVersion, report.dataset_version_id).status == "rejected"
        assert s.query(FineTuneJob).count() == 0


def test_a_running_embedding_experiment_or_missing_rights_stop_a_cycle(db, cfg, scrubber):
    with pytest.raises(PermissionDenied):
        embedding_finetune_cycle(db.factory, cfg, actor=REVIEWER, scrubber=scrubber)
    with db.session() as s:
        kb = experiment_kb(s, cfg)
        exp = start_kb_experiment(s, kb)  # a KB-version experiment does not hold the fine-tune back
        s.commit()
        assert exp.kind == "kb_version"
    report = embedding_finetune_cycle(db.factory, cfg, actor=ADMIN, scrubber=scrubber, mode="split")
    assert report.outcome == CycleOutcome.SKIPPED and report.reason.startswith("no dataset")
