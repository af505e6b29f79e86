"""The gate's rule (core.knowledge.evaluation.gate): a paired exact sign test on per-question
outcomes, so one question in a hundred never rejects a candidate; aggregate fallback."""

from scipy.stats import binomtest

from core.knowledge.evaluation import _sign_test_p, gate, paired_test, question_scores


def _report(outcomes: list[tuple[int, int]], oos: list[int] = ()) -> dict:
    """A report whose in-scope questions 1..n have (hit@1, served) and out-of-scope ones served."""
    ids = list(range(1, len(outcomes) + len(oos) + 1))
    return {
        "hit_at_1": 0.5,
        "per_question": {
            "question_ids": ids,
            "hit_at_1": [h for h, _ in outcomes] + [None] * len(oos),
            "served": [s for _, s in outcomes] + list(oos),
            "top_chunk_ids": [[1]] * len(ids),
        },
    }


def test_sign_test_is_the_exact_one_sided_binomial():
    for losses, wins in [(5, 0), (6, 1), (8, 2), (1, 0), (3, 3), (0, 4)]:
        expected = binomtest(losses, losses + wins, 0.5, alternative="greater").pvalue
        assert abs(_sign_test_p(losses, wins) - expected) < 1e-12
    assert _sign_test_p(0, 0) == 1.0


def test_question_scores_count_hit_and_serving_and_out_of_scope_double():
    assert question_scores(_report([(1, 1), (1, 0), (0, 0)], oos=[1, 0])) == {1: 2, 2: 1, 3: 0, 4: 2, 5: 0}


def test_one_question_of_102_never_rejects_but_a_real_drop_does():
    active = _report([(1, 1)] * 102)
    one_worse = _report([(0, 0)] + [(1, 1)] * 101)
    ok, worse, (t,) = gate(one_worse, active, alpha=0.05, tolerance=0.0)
    assert ok and worse == [] and (t["losses"], t["wins"], t["worse"]) == (1, 0, False)
    assert t["p_value"] == 0.5
    many_worse = _report([(0, 0)] * 5 + [(1, 1)] * 97)
    ok, worse, (t,) = gate(many_worse, active, alpha=0.05, tolerance=0.0)
    assert not ok and t["lost"] == [1, 2, 3, 4, 5] and "5 of 102" in worse[0] and "p = 0.0312" in worse[0]
    # wins offset losses: 6 lost against 4 won is chance
    mixed = _report([(0, 0)] * 6 + [(1, 1)] * 96)
    base = _report([(1, 1)] * 6 + [(0, 0)] * 4 + [(1, 1)] * 92)
    assert gate(mixed, base, 0.05, 0.0)[0]
    # a stricter alpha lets the 5-question drop through; a tolerance of 10 % too
    assert gate(many_worse, active, alpha=0.01, tolerance=0.0)[0]
    assert gate(many_worse, active, alpha=0.05, tolerance=0.1)[0]


def test_questions_are_paired_by_id_and_old_reports_fall_back_to_aggregates():
    active = _report([(1, 1)] * 10)
    cand = _report([(0, 0)] * 10)
    cand["per_question"]["question_ids"] = list(range(101, 111))  # no question in common
    assert paired_test(cand, active, 0.05)["questions"] == 0 and gate(cand, active, 0.05, 0.0)[0]
    old = {"hit_at_1": 0.9, "hit_at_5": 1.0, "mrr": 0.95, "answered_accuracy": 0.9, "escalation_rate": 0.1}
    worse = {**old, "hit_at_1": 0.8}
    ok, reasons, tests = gate(worse, old, 0.05, 0.0)
    assert not ok and reasons[0].startswith("hit_at_1") and tests == []
    assert gate(worse, None, 0.05, 0.0)[0]  # the first version
