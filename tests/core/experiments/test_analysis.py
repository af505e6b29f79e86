"""Comparing an experiment's arms, on SQLite and PostgreSQL: per-arm metrics with intervals, the
tests, the composite and the recommendation of a clear winner and of no difference, and a shadow
test judged against the review queue's verdicts on the sent answers."""

import pytest

from core.experiments import analysis
from core.experiments.decision import Recommendation
from core.platform.errors import NotFound
from core.review import decisions
from core.review import queue as review
from tests.factories import ADMIN
from tests.factories.experiments import (
    QUESTIONS,
    experiment_kb,
    routed_turn,
    start_kb_experiment,
    traffic,
)


@pytest.fixture
def kb(session, settings):
    return experiment_kb(session, settings)


def test_a_clear_winner_is_recommended_with_intervals(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = start_kb_experiment(session, kb, share=0.5, min_users_per_arm=30)
    traffic(session, kb, exp, users=140, p_control=0.35, p_candidate=0.95)
    cmp = analysis.compare_performance(session, exp.id, st, clock=clock)
    assert cmp.recommendation == Recommendation.PROMOTE, cmp.reason
    assert cmp.control["users"] + cmp.candidate["users"] == 140 and cmp.enough_sample
    assert cmp.candidate["containment"] > cmp.control["containment"]
    lo, hi = cmp.candidate["containment_ci"]
    assert lo < cmp.candidate["containment"] < hi
    assert cmp.tests["containment"]["significant"] and cmp.tests["containment"]["p_value"] <= 0.05
    assert cmp.composite["lift"] > 0 and cmp.composite["lift_ci"][0] > 0 and cmp.composite["samples"] == 1000
    assert cmp.candidate["avg_confidence"] > 0 and cmp.control["avg_response_seconds"] is not None
    assert cmp.days_needed == 0 and cmp.control_label == f"KB v{kb['v1'].id}"
    assert cmp.as_dict()["since"].startswith("2026-03-01")
    analysis.record_comparison(exp, cmp, clock.now())
    assert exp.recommendation == "PROMOTE" and exp.last_comparison["users"] == 140


def test_no_difference_continues_and_says_how_long(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = start_kb_experiment(session, kb, share=0.5, min_users_per_arm=30)
    traffic(session, kb, exp, users=40, p_control=0.6, p_candidate=0.6)
    cmp = analysis.compare_performance(session, exp.id, st, clock=clock)
    assert cmp.recommendation == Recommendation.CONTINUE
    assert cmp.days_needed and cmp.days_needed > 0 and cmp.users_per_day > 0
    with pytest.raises(NotFound):
        analysis.compare_performance(session, 999, st, clock=clock)


def test_shadow_answers_are_compared_with_the_review_verdicts(session, kb):
    st, clock = kb["settings"], kb["clock"]
    exp = start_kb_experiment(session, kb, mode="shadow", share=0.99, min_users_per_arm=5)
    sent = [routed_turn(session, kb, f"shadow-{i}", q)[1] for i, q in enumerate(QUESTIONS * 2)]
    # later human judgement of the sent answers
    item = review.flag_message(session, sent[0].id, "low_confidence", actor=ADMIN, clock=clock)
    decisions.edit(session, item.id, ADMIN, "Adults pay sixty dollars each, salad and rice included.",
                "clearer", clock=clock)
    item2 = review.flag_message(session, sent[1].id, "low_confidence", actor=ADMIN, clock=clock)
    decisions.approve(session, item2.id, ADMIN, clock=clock)
    cmp = analysis.compare_performance(session, exp.id, st, clock=clock)
    sh = cmp.shadow
    assert sh["shadow_answers"] == len(sent) and sh["errors"] == 0 and sh["same_chunk_rate"] == 1.0
    assert sh["judgement"]["judged"] == 2 and sh["judgement"]["wins"] == 2
    assert sh["judgement"]["by_verdict"] == {"edited": {"wins": 1, "losses": 0},
                                             "approved": {"wins": 1, "losses": 0}}
    assert cmp.recommendation == Recommendation.CONTINUE  # same answer rate: nothing to promote on
