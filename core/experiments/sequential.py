"""The always-valid sequential test of experiments: the mixture sequential probability ratio
test (mSPRT, Johari, Pekelis and Walsh, "Always valid inference", 2017).

For a difference estimate ``d`` with variance ``V`` and a normal mixture of effects with
standard deviation ``tau`` around ``theta0``::

    L = sqrt(V / (V + tau^2)) * exp(tau^2 (d - theta0)^2 / (2 V (V + tau^2)))

Under ``theta = theta0`` the probability that ``L`` ever reaches ``1/alpha`` — at any number
of looks, planned or not — is at most ``alpha``; ``1/L`` is an always-valid p-value. So the
runner may re-check an experiment every day (and an admin as often as they like) without
inflating the false-promotion rate, and the experiment may be extended from 7 to 14 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.experiments.stats import Z95, RatioEstimate


def msprt_lambda(diff: float, var: float, tau: float, theta0: float = 0.0) -> float:
    """The mixture likelihood ratio of ``diff`` (variance ``var``) against ``theta0``."""
    if var <= 0 or not math.isfinite(var):
        return 1.0
    t2 = tau * tau
    log_l = 0.5 * math.log(var / (var + t2)) + t2 * (diff - theta0) ** 2 / (2 * var * (var + t2))
    return math.exp(min(log_l, 700.0))


def always_valid_p(diff: float, var: float, tau: float, theta0: float = 0.0) -> float:
    """The always-valid p-value 1 / L (capped at 1) of the mSPRT at this look."""
    return min(1.0, 1.0 / msprt_lambda(diff, var, tau, theta0))


@dataclass
class DiffTest:
    """Candidate minus control on one metric, with an always-valid p-value."""

    metric: str
    control: float | None
    candidate: float | None
    diff: float | None
    se: float | None
    ci_low: float | None  # fixed-horizon 95 % interval of the difference (descriptive)
    ci_high: float | None
    p_value: float | None  # always valid (mSPRT) against no difference
    significant: bool
    direction: int  # +1 candidate better, -1 worse, 0 not significant


def diff_test(metric: str, a: RatioEstimate, b: RatioEstimate, *, tau: float, alpha: float,
              higher_is_better: bool = True) -> DiffTest:
    """Compare candidate ``b`` with control ``a`` by the mSPRT at level ``alpha``."""
    if a.value is None or b.value is None or a.se is None or b.se is None:
        return DiffTest(metric, a.value, b.value, None, None, None, None, None, False, 0)
    d = b.value - a.value
    var = a.se**2 + b.se**2
    se = math.sqrt(var)
    p = always_valid_p(d, var, tau)
    sig = p <= alpha and d != 0
    sign = (1 if d > 0 else -1) * (1 if higher_is_better else -1)
    return DiffTest(metric, a.value, b.value, d, se, d - Z95 * se, d + Z95 * se, p, sig, sign if sig else 0)


def worse_by_more_than(a: RatioEstimate, b: RatioEstimate, margin: float, *, tau: float, alpha: float,
                       higher_is_better: bool = True) -> tuple[bool, float | None]:
    """Guardrail: is the candidate ``b`` below control ``a`` by more than ``margin`` (observed)
    with the drop significant (always-valid p <= ``alpha`` against no difference)? Returns
    (breached, p-value). Under no true difference this fires with probability at most alpha/2
    however often it is checked, so it may act at once, before the minimum sample."""
    if a.value is None or b.value is None or a.se is None or b.se is None:
        return False, None
    d = b.value - a.value if higher_is_better else a.value - b.value  # > 0 candidate better
    p = always_valid_p(d, a.se**2 + b.se**2, tau)
    return (d < -margin and p <= alpha), p


# --- shadow mode: paired comparison ---------------------------------------------------------
def paired_test(metric: str, control: np.ndarray, candidate: np.ndarray, *, tau: float, alpha: float,
                higher_is_better: bool = True) -> DiffTest:
    """Shadow mode: both arms answered the same questions, so the per-user mean of
    (candidate - control) is tested (mSPRT on the paired differences)."""
    n = len(control)
    if n < 2:
        return DiffTest(metric, None, None, None, None, None, None, None, False, 0)
    d = candidate - control
    mean = float(d.mean())
    var = float(d.var(ddof=1)) / n
    if var <= 0:  # identical answers everywhere: floor at one discordant pair
        var = 1.0 / (4 * n * n)
    se = math.sqrt(var)
    p = always_valid_p(mean, var, tau)
    sig = p <= alpha and mean != 0
    sign = (1 if mean > 0 else -1) * (1 if higher_is_better else -1)
    return DiffTest(metric, float(control.mean()), float(candidate.mean()), mean, se, mean - Z95 * se,
                    mean + Z95 * se, p, sig, sign if sig else 0)



# --- planning ------------------------------------------------------------------------------------
def sequential_users_needed(sd_control: float, sd_candidate: float, share: float, effect: float, *,
                            tau: float, alpha: float) -> int:
    """Total users (both arms) at which the mSPRT decides when the observed difference equals
    ``effect``: the smallest N with L >= 1/alpha for V = sd_c^2/(N(1-share)) + sd_t^2/(N share).
    An estimate for planning (about a 50 % chance of deciding by then when the true effect is
    ``effect``), not a guarantee."""
    if effect <= 0 or not 0 < share < 1:
        return 0

    def lam(n: float) -> float:
        var = sd_control**2 / (n * (1 - share)) + sd_candidate**2 / (n * share)
        return msprt_lambda(effect, var, tau)

    target = 1.0 / alpha
    hi = 2.0
    while lam(hi) < target:
        hi *= 2
        if hi > 1e9:
            return int(1e9)
    lo = hi / 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if lam(mid) >= target:
            hi = mid
        else:
            lo = mid
    return math.ceil(hi)
