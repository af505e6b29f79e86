"""The always-valid sequential test (mSPRT) and the planning estimate of users needed."""

import math

from core.experiments.sequential import always_valid_p, msprt_lambda, sequential_users_needed
from core.experiments.stats import fixed_sample_size_per_arm


def test_msprt_is_one_at_no_difference_and_grows_with_evidence():
    assert msprt_lambda(0.0, 0.01, 0.05) < 1
    assert msprt_lambda(0.05, 0.0001, 0.05) > msprt_lambda(0.05, 0.001, 0.05) > 1
    assert always_valid_p(0.05, 0.0001, 0.05) < 0.05 < always_valid_p(0.01, 0.001, 0.05)
    assert always_valid_p(0.0, 0.0, 0.05) == 1.0


def test_sample_sizes_for_five_points():
    n = fixed_sample_size_per_arm(0.6, 0.05, alpha=0.05, power=0.8)
    assert 1400 < n < 1550  # the textbook number for 60 % -> 65 %
    sd = math.sqrt(0.6 * 0.4)
    seq = sequential_users_needed(sd, sd, 0.5, 0.05, tau=0.05, alpha=0.05)
    assert seq > 0
    # a 10 % share needs far more users in all than a 50/50 split
    assert sequential_users_needed(sd, sd, 0.1, 0.05, tau=0.05, alpha=0.05) > 2.5 * seq
