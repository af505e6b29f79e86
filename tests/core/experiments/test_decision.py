"""The experiment decision rule: the simulation with synthetic traffic of known effect at daily
looks (A/A false-promotion rate, a +5-point candidate promoted, worse ones rolled back by the
guardrails) and no decision on metrics before the minimum sample."""

import numpy as np

from core.experiments.decision import Recommendation, StatsConfig, decide, simulate
from core.experiments.stats import synthetic_arm

BASE = {"containment": 0.6}
CFG = StatsConfig(min_users_per_arm=100, bootstrap_samples=200)


def _runs(n, *, share, users_per_day, candidate, seed0=0, cfg=CFG, days=14):
    return [simulate(seed0 + s, days=days, users_per_day=users_per_day, share=share, control=BASE,
                     candidate=candidate, cfg=cfg) for s in range(n)]


def test_aa_false_promotion_rate_at_daily_looks_is_at_most_alpha():
    # 14 daily looks per run; identical arms. 50/50 split and the default 10 % share.
    runs = _runs(300, share=0.5, users_per_day=300, candidate=BASE)
    runs += _runs(100, share=0.1, users_per_day=300, candidate=BASE, seed0=10_000)
    promoted = sum(r.recommendation == Recommendation.PROMOTE for r in runs)
    rate = promoted / len(runs)
    assert rate <= CFG.alpha, f"false promotions {promoted}/{len(runs)}"
    # the guardrails rarely fire on identical arms either
    assert sum(r.guardrail for r in runs) / len(runs) <= CFG.alpha


def test_five_points_better_containment_is_promoted_once_the_sample_allows():
    cfg = StatsConfig(min_users_per_arm=400, bootstrap_samples=200)
    runs = _runs(10, share=0.5, users_per_day=600, candidate={"containment": 0.65}, cfg=cfg)
    assert sum(r.recommendation == Recommendation.PROMOTE for r in runs) >= 9
    for r in runs:
        assert not r.guardrail
        if r.recommendation == Recommendation.PROMOTE:  # never before the minimum sample
            assert min(r.users_per_arm) >= cfg.min_users_per_arm


def test_worse_candidates_are_rolled_back_by_the_guardrails_even_before_the_minimum_sample():
    cfg = StatsConfig(min_users_per_arm=5000, bootstrap_samples=200)  # never reached in 14 days
    for worse in ({"containment": 0.45}, {"containment": 0.6, "csat": 3.5},
                  {"containment": 0.6, "error_rate": 0.2}):
        runs = _runs(5, share=0.5, users_per_day=300, candidate=worse, cfg=cfg)
        assert all(r.recommendation == Recommendation.ROLLBACK and r.guardrail for r in runs), worse
        assert all(r.day <= 7 for r in runs)


def test_no_decision_on_metrics_before_the_minimum_sample():
    rng = np.random.default_rng(1)
    a, b = synthetic_arm(rng, 80, containment=0.3), synthetic_arm(rng, 80, containment=0.9)
    dec = decide(a, b, StatsConfig(min_users_per_arm=100, bootstrap_samples=100))
    assert dec.recommendation == Recommendation.CONTINUE and not dec.enough_sample
    assert "100 per arm" in dec.reason
    assert dec.users_needed >= 200
    assert dec.control.users == 80 and dec.composite.samples == 100  # the report still has numbers
