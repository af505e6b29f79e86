"""Experiment statistics (issue 7): the simulation with synthetic traffic of known effect at
daily looks (A/A false-promotion rate, a +5-point candidate promoted, worse ones rolled back by
the guardrails), plus the building blocks: per-user ratios, the always-valid test, the
composite and its seeded bootstrap, sample sizes."""

import math

import numpy as np
import pytest

from core.experiments.stats import (
    CONTINUE,
    PROMOTE,
    ROLLBACK,
    ArmData,
    StatsConfig,
    always_valid_p,
    bootstrap_composite,
    composite,
    decide,
    fixed_sample_size_per_arm,
    msprt_lambda,
    ratio,
    sequential_users_needed,
    simulate,
    synthetic_arm,
)

BASE = {"containment": 0.6}
CFG = StatsConfig(min_users_per_arm=100, bootstrap_samples=200)


def _runs(n, *, share, users_per_day, candidate, seed0=0, cfg=CFG, days=14):
    return [simulate(seed0 + s, days=days, users_per_day=users_per_day, share=share, control=BASE,
                     candidate=candidate, cfg=cfg) for s in range(n)]


def test_aa_false_promotion_rate_at_daily_looks_is_at_most_alpha():
    # 14 daily looks per run; identical arms. 50/50 split and the default 10 % share.
    runs = _runs(300, share=0.5, users_per_day=300, candidate=BASE)
    runs += _runs(100, share=0.1, users_per_day=300, candidate=BASE, seed0=10_000)
    promoted = sum(r.recommendation == PROMOTE for r in runs)
    rate = promoted / len(runs)
    assert rate <= CFG.alpha, f"false promotions {promoted}/{len(runs)}"
    # the guardrails rarely fire on identical arms either
    assert sum(r.guardrail for r in runs) / len(runs) <= CFG.alpha


def test_five_points_better_containment_is_promoted_once_the_sample_allows():
    cfg = StatsConfig(min_users_per_arm=400, bootstrap_samples=200)
    runs = _runs(10, share=0.5, users_per_day=600, candidate={"containment": 0.65}, cfg=cfg)
    assert sum(r.recommendation == PROMOTE for r in runs) >= 9
    for r in runs:
        assert not r.guardrail
        if r.recommendation == PROMOTE:  # never before the minimum sample
            assert min(r.users_per_arm) >= cfg.min_users_per_arm


def test_worse_candidates_are_rolled_back_by_the_guardrails_even_before_the_minimum_sample():
    cfg = StatsConfig(min_users_per_arm=5000, bootstrap_samples=200)  # never reached in 14 days
    for worse in ({"containment": 0.45}, {"containment": 0.6, "csat": 3.5},
                  {"containment": 0.6, "error_rate": 0.2}):
        runs = _runs(5, share=0.5, users_per_day=300, candidate=worse, cfg=cfg)
        assert all(r.recommendation == ROLLBACK and r.guardrail for r in runs), worse
        assert all(r.day <= 7 for r in runs)


def test_no_decision_on_metrics_before_the_minimum_sample():
    rng = np.random.default_rng(1)
    a, b = synthetic_arm(rng, 80, containment=0.3), synthetic_arm(rng, 80, containment=0.9)
    dec = decide(a, b, StatsConfig(min_users_per_arm=100, bootstrap_samples=100))
    assert dec.recommendation == CONTINUE and not dec.enough_sample and "100 per arm" in dec.reason
    assert dec.users_needed >= 200
    assert dec.control.users == 80 and dec.composite.samples == 100  # the report still has numbers


def test_ratio_is_per_user_with_a_cluster_robust_standard_error():
    # one user with 10 conversations all contained, 10 users with one each, none contained
    num = np.array([10.0] + [0.0] * 10)
    den = np.array([10.0] + [1.0] * 10)
    r = ratio(num, den)
    assert r.value == pytest.approx(0.5) and r.users == 11
    naive_se = math.sqrt(0.25 / 20)  # as if 20 independent conversations
    assert r.se > naive_se * 1.5  # the heavy user is one unit, not ten
    assert ratio(np.zeros(3), np.zeros(3)).value is None
    zero = ratio(np.zeros(40), np.ones(40), binary=True)
    assert zero.value == 0 and zero.se > 0  # 0 of 40 still has a usable variance


def test_msprt_is_one_at_no_difference_and_grows_with_evidence():
    assert msprt_lambda(0.0, 0.01, 0.05) < 1
    assert msprt_lambda(0.05, 0.0001, 0.05) > msprt_lambda(0.05, 0.001, 0.05) > 1
    assert always_valid_p(0.05, 0.0001, 0.05) < 0.05 < always_valid_p(0.01, 0.001, 0.05)
    assert always_valid_p(0.0, 0.0, 0.05) == 1.0


def test_composite_weights_and_normalisation():
    # 0.4 * 0.6 + 0.3 * 0.2 + 0.2 * (4.2 - 1) / 4 + 0.1 * 0.7
    assert composite(0.6, 0.2, 4.2, 0.7) == pytest.approx(0.24 + 0.06 + 0.16 + 0.07)
    assert composite(1, 1, 5, 1) == pytest.approx(1.0) and composite(0, 0, 1, 0) == 0
    # a term without data is left out and the other weights scaled up
    assert composite(0.5, 0.5, None, 0.5) == pytest.approx(0.5)
    assert composite(None, None, None, None) is None


def test_bootstrap_interval_is_seeded_and_covers_the_point_estimate():
    rng = np.random.default_rng(3)
    a, b = synthetic_arm(rng, 500, containment=0.6), synthetic_arm(rng, 500, containment=0.7)
    c1 = bootstrap_composite(a, b, seed=42, samples=300)
    c2 = bootstrap_composite(a, b, seed=42, samples=300)
    assert c1 == c2
    assert c1.lift_ci[0] < c1.lift < c1.lift_ci[1] and c1.lift > 0
    assert c1.control_ci[0] < c1.control < c1.control_ci[1]
    assert set(c1.terms) == {"containment", "conversion", "satisfaction", "confidence"}
    empty = bootstrap_composite(ArmData.empty(), b, seed=1)
    assert empty.control is None and empty.lift_ci == (None, None)


def test_sample_sizes_for_five_points():
    n = fixed_sample_size_per_arm(0.6, 0.05, alpha=0.05, power=0.8)
    assert 1400 < n < 1550  # the textbook number for 60 % -> 65 %
    sd = math.sqrt(0.6 * 0.4)
    seq = sequential_users_needed(sd, sd, 0.5, 0.05, tau=0.05, alpha=0.05)
    assert seq > 0
    # a 10 % share needs far more users in all than a 50/50 split
    assert sequential_users_needed(sd, sd, 0.1, 0.05, tau=0.05, alpha=0.05) > 2.5 * seq
