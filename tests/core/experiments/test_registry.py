"""The experiment rows, on SQLite and PostgreSQL: reading them, their targets' labels, the audit
snapshot, and the production values a promotion writes."""

import dataclasses

import pytest

from core.answering import routing
from core.experiments import registry
from core.platform.errors import Conflict, NotFound, PermissionDenied
from core.platform.models import Experiment, ProductionConfig
from core.platform.statuses import ExperimentStatus
from tests.factories import ADMIN, REVIEWER
from tests.factories.knowledge import T0


def _experiment(session, status=ExperimentStatus.RUNNING, kind="kb_version") -> Experiment:
    exp = Experiment(name=f"{kind} test", kind=kind, mode="split", status=status,
                     control={"kb_version_id": 1}, candidate={"kb_version_id": 2}, share=0.1, salt="s",
                     min_users_per_arm=2, started_at=T0, planned_end_at=T0, created_by="t")
    session.add(exp)
    session.flush()
    return exp


def test_get_list_and_running(session):
    first = _experiment(session, status=ExperimentStatus.STOPPED)
    second = _experiment(session, kind="chat_model")
    assert registry.get_experiment(session, first.id) is first
    assert [e.id for e in registry.list_experiments(session)] == [second.id, first.id]
    assert registry.running_experiment(session, second.id) is second
    with pytest.raises(Conflict):
        registry.running_experiment(session, first.id)
    with pytest.raises(NotFound):
        registry.get_experiment(session, 999)
    assert registry.snapshot(second)["status"] == ExperimentStatus.RUNNING


def test_labels_name_every_part_of_a_target():
    assert registry.label({"kb_version_id": 3}) == "KB v3"
    assert registry.label({"chat_model": "gpt-4o-mini"}) == "model gpt-4o-mini"
    both = {"embedding_model_path": "", "kb_version_id": 4}
    assert registry.label(both) == "embedder bundled MiniLM, KB v4"
    assert registry.label({}) == "production"


def test_set_production_writes_and_overwrites_one_row(session):
    registry.set_production(session, "chat_model", "ft:a", actor=ADMIN, now=T0, experiment_id=None)
    bob = dataclasses.replace(ADMIN, name="bob")
    registry.set_production(session, "chat_model", "ft:b", actor=bob, now=T0, experiment_id=None)
    with pytest.raises(PermissionDenied, match="manage_experiments"):
        registry.set_production(session, "chat_model", "ft:c", actor=REVIEWER, now=T0, experiment_id=None)
    row = session.get(ProductionConfig, "chat_model")
    assert (row.value, row.updated_by) == ("ft:b", "bob")
    assert routing.production_value(session, "chat_model") == "ft:b"
