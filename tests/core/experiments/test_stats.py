"""Per-user estimates of an experiment's arms: ratios with a cluster-robust standard error, the
composite score and its seeded bootstrap interval."""

import math

import numpy as np
import pytest

from core.experiments.stats import ArmData, bootstrap_composite, composite, ratio, synthetic_arm


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
