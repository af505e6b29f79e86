"""Routing answers through experiments, on SQLite and PostgreSQL: consistent split assignment
recorded on the message and the exposures, shadow answers stored beside the sent ones, a failing
candidate answered by control, production values and the embedder production serves, and the
real chat API routing a session id."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.answering import routing
from core.platform.errors import ValidationError
from core.platform.models import ExperimentExposure, ShadowAnswer
from core.platform.statuses import Arm
from tests.factories.experiments import QUESTIONS, experiment_kb, routed_turn, start_kb_experiment


@pytest.fixture
def kb(session, settings):
    return experiment_kb(session, settings)


def test_bucket_is_stable_and_below_the_share_means_candidate(session, kb):
    assert routing.bucket("s1", "user-1") == routing.bucket("s1", "user-1")
    assert routing.bucket("s1", "user-1") != routing.bucket("s2", "user-1")
    assert all(0 <= routing.bucket("s", f"u{i}") < 1 for i in range(50))
    exp = start_kb_experiment(session, kb, share=0.5)
    for i in range(20):
        expected = Arm.CANDIDATE if routing.bucket("s1", f"u{i}") < 0.5 else Arm.CONTROL
        assert routing.arm_of(exp, f"u{i}") == expected
    with pytest.raises(ValidationError):
        routing.route(session, "")


def test_split_routes_users_consistently_and_records_experiment_and_arm(session, kb):
    exp = start_kb_experiment(session, kb, share=0.5, min_users_per_arm=10)
    arms = {}
    for i in range(30):
        user = f"user-{i}"
        _, msg, routed = routed_turn(session, kb, user, QUESTIONS[i % len(QUESTIONS)])
        arm = routing.arm_of(exp, user)
        assert (msg.experiment_id, msg.arm) == (exp.id, arm)
        assert msg.kb_version_id == (kb["v2"].id if arm == Arm.CANDIDATE else kb["v1"].id)
        assert routed.as_dict()["experiments"] == [{"experiment_id": exp.id, "arm": arm, "shadow": False}]
        arms[user] = arm
    assert 5 < sum(a == Arm.CANDIDATE for a in arms.values()) < 25
    # the same user always gets the same arm
    for user in list(arms)[:5]:
        assert routed_turn(session, kb, user, "kids price per child")[1].arm == arms[user]
    assert session.scalar(select(func.count()).select_from(ExperimentExposure)) == 35


def test_a_failing_candidate_is_answered_by_control(session, kb):
    exp = start_kb_experiment(session, kb, share=0.99)
    (Path(kb["settings"].index_dir) / kb["v2"].index_file).unlink()
    _, msg, routed = routed_turn(session, kb, "unlucky", "kids price per child")
    assert routing.arm_of(exp, "unlucky") == Arm.CANDIDATE
    assert msg.kb_version_id == kb["v1"].id and exp.id in routed.candidate_failed
    exposure = session.scalars(select(ExperimentExposure)).one()
    assert exposure.error is True and exposure.arm == Arm.CANDIDATE


def test_shadow_mode_stores_candidate_answers_beside_the_sent_ones(session, kb):
    start_kb_experiment(session, kb, mode="shadow", share=0.99, min_users_per_arm=5)
    sent = []
    for i, q in enumerate(QUESTIONS * 2):
        _, msg, _routed = routed_turn(session, kb, f"shadow-{i}", q)
        assert msg.kb_version_id == kb["v1"].id and msg.arm == Arm.CONTROL  # control is sent
        sent.append(msg)
    shadows = session.scalars(select(ShadowAnswer).order_by(ShadowAnswer.id)).all()
    assert len(shadows) == len(sent) and all(s.kb_version_id == kb["v2"].id for s in shadows)
    assert all(s.message_id == m.id for s, m in zip(shadows, sent, strict=True))
    adult = [s for s in shadows if "Adults pay" in s.text]
    assert adult and all(s.same_chunk and s.similarity < 1 for s in adult)
    assert all(s.similarity == 1.0 for s in shadows if s not in adult and not s.escalated)


def test_production_values_override_the_settings(session, kb):
    st = kb["settings"]
    assert routing.production_value(session, "chat_model") is None
    assert routing.production_settings(session, st) is st
    with pytest.raises(ValidationError):
        routing.production_value(session, "nope")
    assert routing.text_similarity("", "") == 1.0
    assert routing.text_similarity("Adults pay sixty", "adults PAY sixty") == 1.0
    assert routing.text_similarity("one two", "three four") == 0.0
