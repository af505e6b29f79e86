"""Experiments through the database (issue 7), on SQLite and PostgreSQL: two KB versions in
split and shadow mode through the responder, assignment and share changes, comparison with
intervals, promote and rollback (audited), guardrail rollback by the daily check, the
production config of chat models, the runner's end-of-plan handling, and the CLI."""

import datetime as dt
import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.access.auth import create_user
from core.conversations import outcomes
from core.experiments import lifecycle as experiments
from core.knowledge.chunks import chunk_by_external_id, update_chunk
from core.knowledge.index import IndexCache
from core.knowledge.versions import activate_version, active_version, build_version
from core.platform import audit, events
from core.platform.errors import Conflict, PermissionDenied, ValidationError
from core.platform.models import (
    Conversation,
    Experiment,
    ExperimentExposure,
    Message,
    ShadowAnswer,
)
from core.review import queue as review
from tests.core.kb_helpers import T0, hashing, kb_settings, seed

QUESTIONS = [
    "what is the adult price per adult guest", "kids price per child", "is there a party food minimum",
    "how much is the travel fee for distance", "which service area do you cover",
    "booking deposit to hold a date", "what if it rains, rain plan", "vegetarian guests tofu",
]


@pytest.fixture
def kb(session, settings):
    """Two KB versions: v1 active, v2 a candidate with a reworded adult-price chunk."""
    st = kb_settings(settings)
    st.ensure_dirs()
    clock = seed(session)
    emb = hashing()
    v1 = build_version(session, emb, st, built_by="test", clock=clock)
    activate_version(session, v1.id, st, actor="test", clock=clock, force=True)
    chunk = chunk_by_external_id(session, "price-adult")
    update_chunk(session, chunk.id, actor="test", clock=clock,
                 text="Adults pay sixty dollars each; the adult price includes salad, rice and two proteins.")
    v2 = build_version(session, emb, st, built_by="test", clock=clock)
    create_user(session, "alice", "admin", "correct-horse-1")
    create_user(session, "victor", "viewer", "correct-horse-2")
    session.commit()
    return {"settings": st, "clock": clock, "emb": emb, "v1": v1, "v2": v2, "cache": IndexCache()}


def _turn(session, kb, user: str, question: str, *, clock=None):
    """A customer question from ``user`` answered through the experiment router."""
    clock = clock or kb["clock"]
    conv = Conversation(channel="web", external_user_id=user, created_at=clock.now())
    conv.messages.append(Message(role="user", raw_content=question, redacted_content=question,
                                 created_at=clock.now()))
    session.add(conv)
    session.flush()
    routed = experiments.answer_for_user(session, question, user_id=user, embedder=kb["emb"],
                                         settings=kb["settings"], index_cache=kb["cache"], clock=clock)
    msg = experiments.record_answer(session, conv.id, routed, clock=clock, settings=kb["settings"])
    return conv, msg, routed


def _start(session, kb, **kw):
    kw.setdefault("kind", "kb_version")
    kw.setdefault("candidate", {"kb_version_id": kb["v2"].id})
    kw.setdefault("salt", "s1")
    return experiments.start_experiment(session, kb["settings"], actor="alice", clock=kb["clock"], **kw)


def test_split_routes_users_consistently_and_records_experiment_and_arm(session, kb):
    exp = _start(session, kb, share=0.5, min_users_per_arm=10)
    arms = {}
    for i in range(30):
        user = f"user-{i}"
        _, msg, routed = _turn(session, kb, user, QUESTIONS[i % len(QUESTIONS)])
        arm = experiments.arm_of(exp, user)
        assert (msg.experiment_id, msg.arm) == (exp.id, arm)
        assert msg.kb_version_id == (kb["v2"].id if arm == "candidate" else kb["v1"].id)
        assert routed.as_dict()["experiments"] == [{"experiment_id": exp.id, "arm": arm, "shadow": False}]
        arms[user] = arm
    assert 5 < sum(a == "candidate" for a in arms.values()) < 25
    # the same user always gets the same arm
    for user in list(arms)[:5]:
        assert _turn(session, kb, user, "kids price per child")[1].arm == arms[user]
    assert session.scalar(select(func.count()).select_from(ExperimentExposure)) == 35
    # raising the share keeps every candidate user a candidate; lowering it is refused
    experiments.set_share(session, exp.id, 0.8, actor="alice", clock=kb["clock"])
    assert all(experiments.arm_of(exp, u) == "candidate" for u, a in arms.items() if a == "candidate")
    assert sum(experiments.arm_of(exp, u) == "candidate" for u in arms) > sum(
        a == "candidate" for a in arms.values())
    with pytest.raises(ValidationError):
        experiments.set_share(session, exp.id, 0.3, actor="alice")
    # one running experiment per kind, in code and in the database
    with pytest.raises(Conflict):
        _start(session, kb)
    session.commit()
    session.add(Experiment(name="x", kind="kb_version", mode="split", status="running", control={},
                           candidate={}, share=0.1, salt="y", min_users_per_arm=2, started_at=T0,
                           planned_end_at=T0, created_by="t"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_start_checks_the_actor_and_the_candidate(session, kb):
    with pytest.raises(PermissionDenied):
        experiments.start_experiment(session, kb["settings"], kind="kb_version", actor="victor",
                                     candidate={"kb_version_id": kb["v2"].id})
    with pytest.raises(Conflict):  # the active version is not a candidate
        _start(session, kb, candidate={"kb_version_id": kb["v1"].id})
    with pytest.raises(ValidationError):
        _start(session, kb, share=1.5)
    with pytest.raises(ValidationError):
        _start(session, kb, days=30)
    with pytest.raises(ValidationError):  # no chat API configured: nothing to test
        _start(session, kb, kind="chat_model", candidate={"chat_model": "ft:gpt-4o-mini:x"})
    with pytest.raises(ValidationError):
        _start(session, kb, kind="nonsense")


def _close(session, conv, *, contained: bool, booked: bool, csat: int | None, clock):
    now = clock.now()
    conv.status, conv.closed_at = "closed", now
    if not contained:
        conv.escalated_at = now
    if booked:
        outcomes.record_booking(session, conv.id, True, 900.0, clock=clock)
    if csat is not None:
        outcomes.record_csat(session, conv.id, csat, clock=clock)
    outcomes.refresh_outcome(session, conv, clock)


def _traffic(session, kb, exp, *, users: int, p_control: float, p_candidate: float, seed_: int = 1,
             day0: int = 0, days: int = 2):
    rng = random.Random(seed_)
    clock = kb["clock"]
    for i in range(users):
        clock.set(T0 + dt.timedelta(days=day0 + days * i / users))
        user = f"u{seed_}-{i}"
        conv, _msg, _ = _turn(session, kb, user, rng.choice(QUESTIONS), clock=clock)
        p = p_candidate if experiments.arm_of(exp, user) == "candidate" else p_control
        contained = rng.random() < p
        _close(session, conv, contained=contained, booked=rng.random() < 0.2,
               csat=rng.choice([4, 5]) if rng.random() < 0.5 else None, clock=clock)
    session.flush()


def test_compare_promote_and_rollback_are_audited(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = _start(session, kb, share=0.5, min_users_per_arm=30)
    _traffic(session, kb, exp, users=140, p_control=0.35, p_candidate=0.95)
    cmp = experiments.compare_performance(session, exp.id, st, clock=clock)
    assert cmp.recommendation == "PROMOTE", cmp.reason
    assert cmp.control["users"] + cmp.candidate["users"] == 140 and cmp.enough_sample
    assert cmp.candidate["containment"] > cmp.control["containment"]
    lo, hi = cmp.candidate["containment_ci"]
    assert lo < cmp.candidate["containment"] < hi
    assert cmp.tests["containment"]["significant"] and cmp.tests["containment"]["p_value"] <= 0.05
    assert cmp.composite["lift"] > 0 and cmp.composite["lift_ci"][0] > 0 and cmp.composite["samples"] == 1000
    assert cmp.candidate["avg_confidence"] > 0 and cmp.control["avg_response_seconds"] is not None
    assert cmp.days_needed == 0 and cmp.control_label == f"KB v{kb['v1'].id}"
    assert cmp.as_dict()["since"].startswith("2026-03-01")
    # the runner only recommends: an admin confirms (auto_promote is off by default)
    assert experiments.check_running_experiments(session, st, clock)[0]["action"] == "awaiting_confirmation"
    kinds = [e.kind for e in events.recent(session, kind="experiment.promote")]
    assert kinds == ["experiment.promote_recommended"]
    with pytest.raises(PermissionDenied):
        experiments.promote(session, exp.id, st, actor="victor", clock=clock)
    experiments.promote(session, exp.id, st, actor="alice", clock=clock)
    session.commit()
    assert active_version(session).id == kb["v2"].id
    exp = session.get(Experiment, exp.id)
    assert exp.status == "promoted" and exp.confirmed_by == "alice"
    assert exp.previous["kb_version_id"] == kb["v1"].id
    # after promotion production is the candidate for everyone; no experiment tags new answers
    _, msg, _ = _turn(session, kb, "late-user", "kids price per child")
    assert msg.kb_version_id == kb["v2"].id and msg.experiment_id is None
    # rollback restores the previous production in one step, with an event and an audit row
    with pytest.raises(ValidationError):
        experiments.rollback(session, exp.id, st, actor="alice", reason=" ")
    experiments.rollback(session, exp.id, st, actor="alice", reason="bookings dropped", clock=clock)
    session.commit()
    assert active_version(session).id == kb["v1"].id
    assert session.get(Experiment, exp.id).status == "rolled_back"
    ev = events.recent(session, kind="experiment.rolled_back")[0]
    assert ev.severity == "warning" and ev.details["restored"] == {"kb_version_id": kb["v1"].id}
    actions = [(r.actor, r.action) for r in audit.history(session, "experiment", exp.id)]
    assert actions == [("alice", "experiment.start"), ("alice", "experiment.promote"),
                       ("alice", "experiment.rollback")]
    with pytest.raises(Conflict):
        experiments.rollback(session, exp.id, st, actor="alice", reason="again")


def test_no_promotion_without_a_significant_win(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = _start(session, kb, share=0.5, min_users_per_arm=30)
    _traffic(session, kb, exp, users=40, p_control=0.6, p_candidate=0.6)
    cmp = experiments.compare_performance(session, exp.id, st, clock=clock)
    assert cmp.recommendation == "CONTINUE_TESTING"
    assert cmp.days_needed and cmp.days_needed > 0 and cmp.users_per_day > 0
    with pytest.raises(Conflict):
        experiments.promote(session, exp.id, st, actor="alice", clock=clock)
    experiments.promote(session, exp.id, st, actor="alice", clock=clock, force=True, reason="admin's call")
    assert session.get(Experiment, exp.id).reason.endswith("(forced)")


def test_guardrail_rolls_back_a_failing_candidate_at_once(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = _start(session, kb, share=0.5, min_users_per_arm=1000)
    (Path(st.index_dir) / kb["v2"].index_file).unlink()  # every candidate answer now fails
    _traffic(session, kb, exp, users=80, p_control=0.6, p_candidate=0.6)
    failed = session.scalars(select(ExperimentExposure).where(ExperimentExposure.error.is_(True))).all()
    assert failed and all(e.arm == "candidate" for e in failed)
    # the customer still got an answer (control's)
    assert all(m.kb_version_id == kb["v1"].id for m in session.scalars(
        select(Message).where(Message.role == "assistant")))
    assert events.recent(session, kind="experiment.candidate_failed")
    out = experiments.check_running_experiments(session, st, clock)
    assert out[0]["action"] == "rolled_back" and out[0]["reason"].startswith("guardrail: error_rate")
    exp = session.get(Experiment, exp.id)
    assert exp.status == "rolled_back" and exp.decision == "ROLLBACK" and exp.confirmed_by == "jobs"
    ev = events.recent(session, kind="experiment.rolled_back")[0]
    assert ev.severity == "warning" and ev.details["guardrail"] is True
    assert active_version(session).id == kb["v1"].id
    # the next answer is production's again, untagged
    assert _turn(session, kb, "after", "kids price per child")[1].experiment_id is None


def test_shadow_mode_stores_candidate_answers_and_compares_them_with_review(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = _start(session, kb, mode="shadow", share=0.99, min_users_per_arm=5)
    sent = []
    for i, q in enumerate(QUESTIONS * 2):
        _, msg, routed = _turn(session, kb, f"shadow-{i}", q)
        assert msg.kb_version_id == kb["v1"].id and msg.arm == "control"  # control is sent
        sent.append(msg)
    shadows = session.scalars(select(ShadowAnswer).order_by(ShadowAnswer.id)).all()
    assert len(shadows) == len(sent) and all(s.kb_version_id == kb["v2"].id for s in shadows)
    assert all(s.message_id == m.id for s, m in zip(shadows, sent, strict=True))
    adult = [s for s in shadows if "Adults pay" in s.text]
    assert adult and all(s.same_chunk and s.similarity < 1 for s in adult)
    assert all(s.similarity == 1.0 for s in shadows if s not in adult and not s.escalated)
    # later human judgement of the sent answers
    item = review.flag_message(session, sent[0].id, "low_confidence", clock=clock)
    review.edit(session, item.id, "alice", "Adults pay sixty dollars each, salad and rice included.",
                "clearer", clock=clock)
    item2 = review.flag_message(session, sent[1].id, "low_confidence", clock=clock)
    review.approve(session, item2.id, "alice", clock=clock)
    cmp = experiments.compare_performance(session, exp.id, st, clock=clock)
    sh = cmp.shadow
    assert sh["shadow_answers"] == len(sent) and sh["errors"] == 0 and sh["same_chunk_rate"] == 1.0
    assert sh["judgement"]["judged"] == 2 and sh["judgement"]["wins"] == 2
    assert sh["judgement"]["by_verdict"] == {"edited": {"wins": 1, "losses": 0},
                                             "approved": {"wins": 1, "losses": 0}}
    assert cmp.recommendation == "CONTINUE_TESTING"  # same answer rate: nothing to promote on


def test_chat_model_promotion_goes_through_production_config(session, kb):
    st = kb["settings"].model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1"})
    clock = kb["clock"]
    exp = experiments.start_experiment(session, st, kind="chat_model", actor="alice", clock=clock,
                                       candidate={"chat_model": "ft:gpt-4o-mini:acme::x1"})
    assert exp.control == {"chat_model": st.chat_model}
    experiments.promote(session, exp.id, st, actor="alice", clock=clock, force=True)
    assert experiments.production_value(session, "chat_model") == "ft:gpt-4o-mini:acme::x1"
    assert experiments.production_settings(session, st).chat_model == "ft:gpt-4o-mini:acme::x1"
    experiments.rollback(session, exp.id, st, actor="alice", reason="too slow", clock=clock)
    assert experiments.production_settings(session, st).chat_model == st.chat_model
    with pytest.raises(ValidationError):
        experiments.production_value(session, "nope")


def test_embedding_model_candidate_from_a_local_fine_tune(session, kb):
    """A local fine-tune offers a new embedding model and a KB version built with it; the
    experiment answers candidate users with that embedder and version, and promotion stores the
    embedding model in production_config (the next answers load it)."""
    from core.platform.embeddings import HashingEmbedder
    from core.platform.models import DatasetVersion, FineTuneJob

    st, clock = kb["settings"], kb["clock"]
    small = HashingEmbedder(dim=256)
    loader_calls = []

    def loader(path):
        loader_calls.append(path)
        assert path == "models/hash-256"
        return small

    v3 = build_version(session, small, st, built_by="finetune", clock=clock)
    ds = DatasetVersion(name="q1", token_counter="estimate:chars/4", built_by="alice", status="approved")
    session.add(ds)
    session.flush()
    job = FineTuneJob(dataset_version_id=ds.id, provider="local", status="succeeded", base_model="minilm",
                      launched_by="alice", candidate_status="offered", fine_tuned_model="local:hash-256",
                      result={"model_path": "models/hash-256", "kb_version_id": v3.id})
    session.add(job)
    session.flush()
    exp = experiments.start_from_finetune(session, st, job.id, actor="alice", clock=clock, share=0.5,
                                          salt="e")
    assert exp.kind == "embedding_model" and exp.finetune_job_id == job.id
    assert exp.candidate == {"embedding_model_path": "models/hash-256", "kb_version_id": v3.id}
    assert exp.control == {"embedding_model_path": "", "kb_version_id": kb["v1"].id}
    assert session.get(FineTuneJob, job.id).candidate_status == "taken"
    with pytest.raises(Conflict):  # taken: not offered any more
        experiments.start_from_finetune(session, st, job.id, actor="alice")
    for i in range(12):
        user = f"emb-{i}"
        routed = experiments.answer_for_user(session, "kids price per child", user_id=user,
                                             embedder=kb["emb"], settings=st, index_cache=kb["cache"],
                                             clock=clock, embedder_loader=loader)
        arm = experiments.arm_of(exp, user)
        assert routed.kb_version_id == (v3.id if arm == "candidate" else kb["v1"].id)
        assert not routed.candidate_failed
    assert loader_calls
    experiments.promote(session, exp.id, st, actor="alice", clock=clock, force=True)
    assert experiments.production_value(session, "embedding_model_path") == "models/hash-256"
    assert active_version(session).id == v3.id
    routed = experiments.answer_for_user(session, "kids price per child", user_id="later", embedder=kb["emb"],
                                         settings=st, index_cache=IndexCache(), clock=clock,
                                         embedder_loader=loader)
    assert routed.kb_version_id == v3.id and not routed.assignments
    experiments.rollback(session, exp.id, st, actor="alice", reason="worse answers", clock=clock)
    assert experiments.production_value(session, "embedding_model_path") == ""
    assert active_version(session).id == kb["v1"].id


def test_runner_extends_or_stops_an_undecided_experiment_at_its_planned_end(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = _start(session, kb, share=0.5, min_users_per_arm=30, days=2)
    _traffic(session, kb, exp, users=40, p_control=0.5, p_candidate=0.5, days=2)
    clock.set(T0 + dt.timedelta(days=1))
    assert experiments.check_running_experiments(session, st, clock)[0]["action"] == "none"
    clock.set(T0 + dt.timedelta(days=2, hours=1))
    out = experiments.check_running_experiments(session, st, clock)[0]
    exp = session.get(Experiment, exp.id)
    if out["action"] == "extended":
        assert exp.planned_end_at <= T0 + dt.timedelta(days=st.experiment_max_days)
        clock.set(T0 + dt.timedelta(days=st.experiment_max_days, hours=1))
        out = experiments.check_running_experiments(session, st, clock)[0]
    assert out["action"] == "stopped" and exp.status == "stopped" and "inconclusive" in exp.reason
    assert events.recent(session, kind="experiment.inconclusive")
    # an experiment with no traffic at all stops at its planned end
    exp2 = _start(session, kb, share=0.5, days=1, salt="s2")
    clock.set(exp2.planned_end_at + dt.timedelta(hours=1))
    assert experiments.check_running_experiments(session, st, clock)[0]["action"] == "stopped"


def test_auto_promotion_setting(session, kb):
    st = kb["settings"].model_copy(update={"experiment_auto_promote": True})
    exp = _start(session, kb, share=0.5, min_users_per_arm=30)
    _traffic(session, kb, exp, users=140, p_control=0.35, p_candidate=0.95)
    out = experiments.check_running_experiments(session, st, kb["clock"])
    assert out[0]["action"] == "promoted"
    assert session.get(Experiment, exp.id).confirmed_by == "jobs (auto-promote)"
    assert active_version(session).id == kb["v2"].id


def test_stop_keeps_production(session, kb):
    exp = _start(session, kb)
    with pytest.raises(ValidationError):
        experiments.stop(session, exp.id, actor="alice", reason="")
    experiments.stop(session, exp.id, actor="alice", reason="wrong candidate", clock=kb["clock"])
    assert active_version(session).id == kb["v1"].id
    assert session.get(Experiment, exp.id).status == "stopped"
    with pytest.raises(Conflict):
        experiments.stop(session, exp.id, actor="alice", reason="again")


def test_cli_start_status_compare_stop(db, session, kb, monkeypatch):
    from cli import main
    from core.platform.config import get_settings

    session.commit()
    st = kb["settings"]
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(st.data_dir))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(st.index_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        r = runner.invoke(main, ["experiment", "start", "--kind", "kb_version", "--kb-version",
                                 str(kb["v2"].id), "--share", "0.5", "--actor", "alice"])
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


def _chat_routes_through_experiments() -> bool:
    src = Path(__file__).resolve().parents[3] / "api" / "routes" / "chat.py"
    return src.exists() and "experiments." in src.read_text()


@pytest.mark.skipif(not _chat_routes_through_experiments(),
                    reason="api/routes/chat.py does not route through core.experiments.lifecycle yet")
def test_split_and_shadow_through_the_real_chat_api(session, kb):
    from fastapi.testclient import TestClient

    from api.main import create_app

    st = kb["settings"]
    exp = _start(session, kb, share=0.5)
    session.commit()
    app = create_app(st)
    app.state.embedder = kb["emb"]
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with TestClient(app) as client:
        seen = {}
        for i in range(12):
            sid = f"chat-session-{i:03d}"
            r = client.post("/api/v1/chat", json={"message": "what is the adult price per adult guest",
                                                  "session_id": sid})
            assert r.status_code == 200, r.text
            seen[sid] = r.json()["message_id"]
        session.expire_all()
        for sid, mid in seen.items():
            msg = session.get(Message, mid)
            assert (msg.experiment_id, msg.arm) == (exp.id, experiments.arm_of(exp, sid))
        experiments.stop(session, exp.id, actor="alice", reason="switch to shadow")
        shadow = _start(session, kb, mode="shadow", share=0.99, salt="s3")
        session.commit()
        r = client.post("/api/v1/chat", json={"message": "kids price per child", "session_id": "chat-x-1"})
        assert r.status_code == 200
        session.expire_all()
        assert session.scalars(select(ShadowAnswer).where(ShadowAnswer.experiment_id == shadow.id)).all()
