"""The life of an experiment, on SQLite and PostgreSQL: start checks, share changes, promote and
rollback (audited; KB version, chat model and embedding model), a fine-tune's candidate, the
runner's guardrail rollback, auto-promotion and end-of-plan handling, stop, and the rights."""

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.answering import routing
from core.experiments import lifecycle
from core.knowledge.index import IndexCache
from core.knowledge.versions import active_version, build_version
from core.platform import audit, events
from core.platform.actors import SYSTEM
from core.platform.embeddings import HashingEmbedder
from core.platform.errors import Conflict, PermissionDenied, ValidationError
from core.platform.models import DatasetVersion, Experiment, ExperimentExposure, FineTuneJob, Message
from core.platform.statuses import Arm, ExperimentStatus
from tests.factories import ADMIN, REVIEWER, VIEWER
from tests.factories.experiments import experiment_kb, routed_turn, start_kb_experiment, traffic
from tests.factories.knowledge import T0


@pytest.fixture
def kb(session, settings):
    return experiment_kb(session, settings)


def test_raising_the_share_keeps_candidates_and_one_experiment_runs_per_kind(session, kb):
    exp = start_kb_experiment(session, kb, share=0.5)
    users = [f"user-{i}" for i in range(40)]
    before = {u: routing.arm_of(exp, u) for u in users}
    lifecycle.set_share(session, exp.id, 0.8, actor=ADMIN, clock=kb["clock"])
    assert all(routing.arm_of(exp, u) == Arm.CANDIDATE for u, a in before.items() if a == Arm.CANDIDATE)
    assert sum(routing.arm_of(exp, u) == Arm.CANDIDATE for u in users) > sum(
        a == Arm.CANDIDATE for a in before.values())
    with pytest.raises(ValidationError):  # lowering it would move candidates back to control
        lifecycle.set_share(session, exp.id, 0.3, actor=ADMIN)
    # one running experiment per kind, in code and in the database
    with pytest.raises(Conflict):
        start_kb_experiment(session, kb)
    session.commit()
    session.add(Experiment(name="x", kind="kb_version", mode="split", status="running", control={},
                           candidate={}, share=0.1, salt="y", min_users_per_arm=2, started_at=T0,
                           planned_end_at=T0, created_by="t"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_start_checks_the_actor_and_the_candidate(session, kb):
    with pytest.raises(PermissionDenied):
        lifecycle.start_experiment(session, kb["settings"], kind="kb_version", actor=VIEWER,
                                   candidate={"kb_version_id": kb["v2"].id})
    with pytest.raises(Conflict):  # the active version is not a candidate
        start_kb_experiment(session, kb, candidate={"kb_version_id": kb["v1"].id})
    with pytest.raises(ValidationError):
        start_kb_experiment(session, kb, share=1.5)
    with pytest.raises(ValidationError):
        start_kb_experiment(session, kb, days=30)
    with pytest.raises(ValidationError):  # no chat API configured: nothing to test
        start_kb_experiment(session, kb, kind="chat_model", candidate={"chat_model": "ft:gpt-4o-mini:x"})
    with pytest.raises(ValidationError):
        start_kb_experiment(session, kb, kind="nonsense")


def test_every_change_needs_the_manage_experiments_right(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = start_kb_experiment(session, kb, share=0.5)
    for who in (VIEWER, REVIEWER):
        with pytest.raises(PermissionDenied):
            lifecycle.set_share(session, exp.id, 0.6, actor=who)
        with pytest.raises(PermissionDenied):
            lifecycle.extend(session, exp.id, 1, actor=who, settings=st)
        with pytest.raises(PermissionDenied):
            lifecycle.promote(session, exp.id, st, actor=who, clock=clock, force=True)
        with pytest.raises(PermissionDenied):
            lifecycle.rollback(session, exp.id, st, actor=who, reason="no")
        with pytest.raises(PermissionDenied):
            lifecycle.stop(session, exp.id, actor=who, reason="no")
        with pytest.raises(PermissionDenied):
            lifecycle.start_from_finetune(session, st, 1, actor=who)
        with pytest.raises(PermissionDenied):
            lifecycle.check_running_experiments(session, st, clock, actor=who)
    assert session.get(Experiment, exp.id).status == ExperimentStatus.RUNNING


def test_promote_and_rollback_are_audited(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = start_kb_experiment(session, kb, share=0.5, min_users_per_arm=30)
    traffic(session, kb, exp, users=140, p_control=0.35, p_candidate=0.95)
    # the runner only recommends: an admin confirms (auto_promote is off by default)
    assert lifecycle.check_running_experiments(session, st, clock)[0]["action"] == "awaiting_confirmation"
    kinds = [e.kind for e in events.recent(session, kind="experiment.promote")]
    assert kinds == ["experiment.promote_recommended"]
    lifecycle.promote(session, exp.id, st, actor=ADMIN, clock=clock)
    session.commit()
    assert active_version(session).id == kb["v2"].id
    exp = session.get(Experiment, exp.id)
    assert exp.status == ExperimentStatus.PROMOTED and exp.confirmed_by == ADMIN.name
    assert exp.previous["kb_version_id"] == kb["v1"].id
    # after promotion production is the candidate for everyone; no experiment tags new answers
    _, msg, _ = routed_turn(session, kb, "late-user", "kids price per child")
    assert msg.kb_version_id == kb["v2"].id and msg.experiment_id is None
    # rollback restores the previous production in one step, with an event and an audit row
    with pytest.raises(ValidationError):
        lifecycle.rollback(session, exp.id, st, actor=ADMIN, reason=" ")
    lifecycle.rollback(session, exp.id, st, actor=ADMIN, reason="bookings dropped", clock=clock)
    session.commit()
    assert active_version(session).id == kb["v1"].id
    assert session.get(Experiment, exp.id).status == ExperimentStatus.ROLLED_BACK
    ev = events.recent(session, kind="experiment.rolled_back")[0]
    assert ev.severity == "warning" and ev.details["restored"] == {"kb_version_id": kb["v1"].id}
    actions = [(r.actor, r.action) for r in audit.history(session, "experiment", exp.id)]
    assert actions == [(ADMIN.name, "experiment.start"), (ADMIN.name, "experiment.promote"),
                       (ADMIN.name, "experiment.rollback")]
    with pytest.raises(Conflict):
        lifecycle.rollback(session, exp.id, st, actor=ADMIN, reason="again")


def test_no_promotion_without_a_significant_win_unless_forced(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = start_kb_experiment(session, kb, share=0.5, min_users_per_arm=30)
    traffic(session, kb, exp, users=40, p_control=0.6, p_candidate=0.6)
    with pytest.raises(Conflict):
        lifecycle.promote(session, exp.id, st, actor=ADMIN, clock=clock)
    lifecycle.promote(session, exp.id, st, actor=ADMIN, clock=clock, force=True, reason="admin's call")
    assert session.get(Experiment, exp.id).reason.endswith("(forced)")


def test_guardrail_rolls_back_a_failing_candidate_at_once(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = start_kb_experiment(session, kb, share=0.5, min_users_per_arm=1000)
    (Path(st.index_dir) / kb["v2"].index_file).unlink()  # every candidate answer now fails
    traffic(session, kb, exp, users=80, p_control=0.6, p_candidate=0.6)
    failed = session.scalars(select(ExperimentExposure).where(ExperimentExposure.error.is_(True))).all()
    assert failed and all(e.arm == Arm.CANDIDATE for e in failed)
    # the customer still got an answer (control's)
    assert all(m.kb_version_id == kb["v1"].id for m in session.scalars(
        select(Message).where(Message.role == "assistant")))
    assert events.recent(session, kind="experiment.candidate_failed")
    out = lifecycle.check_running_experiments(session, st, clock)
    assert out[0]["action"] == "rolled_back" and out[0]["reason"].startswith("guardrail: error_rate")
    exp = session.get(Experiment, exp.id)
    assert exp.status == ExperimentStatus.ROLLED_BACK and exp.decision == "ROLLBACK"
    assert exp.confirmed_by == SYSTEM.name
    ev = events.recent(session, kind="experiment.rolled_back")[0]
    assert ev.severity == "warning" and ev.details["guardrail"] is True
    assert active_version(session).id == kb["v1"].id
    # the next answer is production's again, untagged
    assert routed_turn(session, kb, "after", "kids price per child")[1].experiment_id is None


def test_chat_model_promotion_goes_through_production_config(session, kb):
    st = kb["settings"].model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1"})
    clock = kb["clock"]
    exp = lifecycle.start_experiment(session, st, kind="chat_model", actor=ADMIN, clock=clock,
                                     candidate={"chat_model": "ft:gpt-4o-mini:acme::x1"})
    assert exp.control == {"chat_model": st.chat_model}
    lifecycle.promote(session, exp.id, st, actor=ADMIN, clock=clock, force=True)
    assert routing.production_value(session, "chat_model") == "ft:gpt-4o-mini:acme::x1"
    assert routing.production_settings(session, st).chat_model == "ft:gpt-4o-mini:acme::x1"
    lifecycle.rollback(session, exp.id, st, actor=ADMIN, reason="too slow", clock=clock)
    assert routing.production_settings(session, st).chat_model == st.chat_model


def test_embedding_model_candidate_from_a_local_fine_tune(session, kb):
    """A local fine-tune offers a new embedding model and a KB version built with it; the
    experiment answers candidate users with that embedder and version, and promotion stores the
    embedding model in production_config (the next answers load it)."""
    st, clock = kb["settings"], kb["clock"]
    small = HashingEmbedder(dim=256)
    loader_calls = []

    def loader(path):
        loader_calls.append(path)
        assert path == "models/hash-256"
        return small

    v3 = build_version(session, small, st, actor=ADMIN, clock=clock)
    ds = DatasetVersion(name="q1", token_counter="estimate:chars/4", built_by="alice", status="approved")
    session.add(ds)
    session.flush()
    job = FineTuneJob(dataset_version_id=ds.id, provider="local", status="succeeded", base_model="minilm",
                      launched_by="alice", candidate_status="offered", fine_tuned_model="local:hash-256",
                      result={"model_path": "models/hash-256", "kb_version_id": v3.id})
    session.add(job)
    session.flush()
    exp = lifecycle.start_from_finetune(session, st, job.id, actor=ADMIN, clock=clock, share=0.5, salt="e")
    assert exp.kind == "embedding_model" and exp.finetune_job_id == job.id
    assert exp.candidate == {"embedding_model_path": "models/hash-256", "kb_version_id": v3.id}
    assert exp.control == {"embedding_model_path": "", "kb_version_id": kb["v1"].id}
    assert session.get(FineTuneJob, job.id).candidate_status == "taken"
    with pytest.raises(Conflict):  # taken: not offered any more
        lifecycle.start_from_finetune(session, st, job.id, actor=ADMIN)
    for i in range(12):
        user = f"emb-{i}"
        routed = routing.answer_for_user(session, "kids price per child", user_id=user, embedder=kb["emb"],
                                         settings=st, index_cache=kb["cache"], clock=clock,
                                         embedder_loader=loader)
        arm = routing.arm_of(exp, user)
        assert routed.kb_version_id == (v3.id if arm == Arm.CANDIDATE else kb["v1"].id)
        assert not routed.candidate_failed
    assert loader_calls
    lifecycle.promote(session, exp.id, st, actor=ADMIN, clock=clock, force=True)
    assert routing.production_value(session, "embedding_model_path") == "models/hash-256"
    assert active_version(session).id == v3.id
    routed = routing.answer_for_user(session, "kids price per child", user_id="later", embedder=kb["emb"],
                                     settings=st, index_cache=IndexCache(), clock=clock,
                                     embedder_loader=loader)
    assert routed.kb_version_id == v3.id and not routed.assignments
    lifecycle.rollback(session, exp.id, st, actor=ADMIN, reason="worse answers", clock=clock)
    assert routing.production_value(session, "embedding_model_path") == ""
    assert active_version(session).id == kb["v1"].id


def test_runner_extends_or_stops_an_undecided_experiment_at_its_planned_end(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = start_kb_experiment(session, kb, share=0.5, min_users_per_arm=30, days=2)
    traffic(session, kb, exp, users=40, p_control=0.5, p_candidate=0.5, days=2)
    clock.set(T0 + dt.timedelta(days=1))
    assert lifecycle.check_running_experiments(session, st, clock)[0]["action"] == "none"
    clock.set(T0 + dt.timedelta(days=2, hours=1))
    out = lifecycle.check_running_experiments(session, st, clock)[0]
    exp = session.get(Experiment, exp.id)
    if out["action"] == "extended":
        assert exp.planned_end_at <= T0 + dt.timedelta(days=st.experiment_max_days)
        clock.set(T0 + dt.timedelta(days=st.experiment_max_days, hours=1))
        out = lifecycle.check_running_experiments(session, st, clock)[0]
    assert out["action"] == "stopped" and exp.status == ExperimentStatus.STOPPED
    assert "inconclusive" in exp.reason
    assert events.recent(session, kind="experiment.inconclusive")
    # an experiment with no traffic at all stops at its planned end
    exp2 = start_kb_experiment(session, kb, share=0.5, days=1, salt="s2")
    clock.set(exp2.planned_end_at + dt.timedelta(hours=1))
    assert lifecycle.check_running_experiments(session, st, clock)[0]["action"] == "stopped"


def test_auto_promotion_setting(session, kb):
    st = kb["settings"].model_copy(update={"experiment_auto_promote": True})
    exp = start_kb_experiment(session, kb, share=0.5, min_users_per_arm=30)
    traffic(session, kb, exp, users=140, p_control=0.35, p_candidate=0.95)
    out = lifecycle.check_running_experiments(session, st, kb["clock"])
    assert out[0]["action"] == "promoted"
    assert session.get(Experiment, exp.id).confirmed_by == f"{SYSTEM.name} (auto-promote)"
    assert active_version(session).id == kb["v2"].id


def test_stop_keeps_production(session, kb):
    exp = start_kb_experiment(session, kb)
    with pytest.raises(ValidationError):
        lifecycle.stop(session, exp.id, actor=ADMIN, reason="")
    lifecycle.stop(session, exp.id, actor=ADMIN, reason="wrong candidate", clock=kb["clock"])
    assert active_version(session).id == kb["v1"].id
    assert session.get(Experiment, exp.id).status == ExperimentStatus.STOPPED
    with pytest.raises(Conflict):
        lifecycle.stop(session, exp.id, actor=ADMIN, reason="again")
