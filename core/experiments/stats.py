"""Per-user estimates of an experiment's arms: ratios with intervals, the composite score and
its bootstrap interval, the per-arm summary, sample sizes, and synthetic traffic.

Everything here is pure numpy on per-user arrays (:class:`ArmData`), so the same functions
serve the database path (``core.experiments.analysis.compare_performance``) and the
simulation tests.

Unit of analysis: the **user** (the unit that is randomised). A rate such as containment is
the ratio of sums over the arm's users (contained / closed conversations, as everywhere in
supportloop) and its variance is the delta-method (cluster-robust) variance over users, so a
user with ten conversations does not count as ten independent observations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# The seed's composite: weights of containment, conversion, satisfaction and confidence.
COMPOSITE_WEIGHTS = {"containment": 0.4, "conversion": 0.3, "satisfaction": 0.2, "confidence": 0.1}
BOOTSTRAP_SAMPLES = 1000
Z95 = 1.959963984540054


@dataclass
class ArmData:
    """One arm's users: one entry per user in every array (all the same length).

    ``closed``/``contained``: closed conversations and those closed without a hand-off;
    ``conversations``/``bookings``: conversations and those that ended in a booking;
    ``csat_sum``/``csat_count``: CSAT scores (1-5) given; ``conf_sum``/``answers``: summed
    confidence of the assistant answers and how many; ``errors``: answers that failed (model
    error, candidate fell back); ``frt_sum``/``frt_count``: first response seconds;
    ``cost_sum``: model cost in USD.
    """

    closed: np.ndarray
    contained: np.ndarray
    conversations: np.ndarray
    bookings: np.ndarray
    csat_sum: np.ndarray
    csat_count: np.ndarray
    conf_sum: np.ndarray
    answers: np.ndarray
    errors: np.ndarray
    frt_sum: np.ndarray
    frt_count: np.ndarray
    cost_sum: np.ndarray

    @classmethod
    def empty(cls) -> ArmData:
        return cls(*[np.zeros(0) for _ in range(12)])

    @classmethod
    def from_rows(cls, rows: list[dict]) -> ArmData:
        """From one dict per user with the field names as keys (missing keys count 0)."""
        names = [f for f in cls.__dataclass_fields__]
        return cls(*[np.array([float(r.get(n, 0) or 0) for r in rows], dtype=float) for n in names])

    @property
    def users(self) -> int:
        return int(len(self.conversations))


@dataclass
class RatioEstimate:
    """A ratio-of-sums metric of one arm with its delta-method standard error (per user)."""

    value: float | None
    se: float | None
    numerator: float
    denominator: float
    users: int  # users with a non-zero denominator

    def ci(self, lo: float = -math.inf, hi: float = math.inf) -> tuple[float | None, float | None]:
        """The 95 % interval, clipped to [lo, hi] (e.g. 0..1 for a rate)."""
        if self.value is None or self.se is None:
            return None, None
        return max(lo, self.value - Z95 * self.se), min(hi, self.value + Z95 * self.se)


def ratio(num: np.ndarray, den: np.ndarray, *, binary: bool = False) -> RatioEstimate:
    """sum(num) / sum(den) over users with den > 0, with its delta-method standard error.

    ``binary`` marks a 0/1-per-unit rate: its variance is floored at that of a proportion
    shrunk half a unit toward 1/2, so an arm with no events yet (0 of 30) still has a usable
    variance instead of zero."""
    keep = den > 0
    n = int(keep.sum())
    y, m = num[keep], den[keep]
    total_y, total_m = float(y.sum()), float(m.sum())
    if n == 0 or total_m == 0:
        return RatioEstimate(None, None, total_y, total_m, n)
    r = total_y / total_m
    if n < 2:
        return RatioEstimate(r, None, total_y, total_m, n)
    mbar = total_m / n
    resid = y - r * m
    var = float(np.sum(resid**2) / (n - 1)) / (n * mbar**2)
    if binary:
        shrunk = (total_y + 0.5) / (total_m + 1.0)
        var = max(var, shrunk * (1 - shrunk) / total_m)
    return RatioEstimate(r, math.sqrt(max(var, 0.0)), total_y, total_m, n)



# --- composite score and its bootstrap interval -----------------------------------------------
def composite(containment: float | None, conversion: float | None, csat: float | None,
              confidence: float | None) -> float | None:
    """The seed's composite: 0.4 containment + 0.3 conversion + 0.2 satisfaction + 0.1
    confidence, every term on 0..1 (satisfaction = (CSAT - 1) / 4, the 1-5 scale's 4 steps;
    confidence as the responder gives it). A term without data is left out and the remaining
    weights are scaled up to sum to 1; None when no term has data."""
    terms = {
        "containment": containment,
        "conversion": conversion,
        "satisfaction": None if csat is None else (csat - 1.0) / 4.0,
        "confidence": confidence,
    }
    used = {k: v for k, v in terms.items() if v is not None}
    if not used:
        return None
    wsum = sum(COMPOSITE_WEIGHTS[k] for k in used)
    return sum(COMPOSITE_WEIGHTS[k] * v for k, v in used.items()) / wsum


def _composite_of_sums(s: dict[str, np.ndarray], use: set[str]) -> np.ndarray:
    """Composite per bootstrap row from weighted sums (same rules as :func:`composite`)."""
    total = np.zeros_like(s["conversations"])
    wsum = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        parts = {
            "containment": s["contained"] / s["closed"],
            "conversion": s["bookings"] / s["conversations"],
            "satisfaction": (s["csat_sum"] / s["csat_count"] - 1.0) / 4.0,
            "confidence": s["conf_sum"] / s["answers"],
        }
    for k in COMPOSITE_WEIGHTS:
        if k in use:
            total = total + COMPOSITE_WEIGHTS[k] * np.nan_to_num(parts[k], nan=0.0)
            wsum += COMPOSITE_WEIGHTS[k]
    return total / wsum if wsum else total


_SUM_FIELDS = ("closed", "contained", "conversations", "bookings", "csat_sum", "csat_count", "conf_sum",
               "answers")


def _bootstrap_sums(arm: ArmData, rng: np.random.Generator, samples: int) -> dict[str, np.ndarray]:
    """Per bootstrap row, the sums of each field over users drawn with replacement (Poisson
    weights, in blocks so memory stays small)."""
    out = {f: np.zeros(samples) for f in _SUM_FIELDS}
    n = arm.users
    if n == 0:
        return out
    mat = np.stack([getattr(arm, f) for f in _SUM_FIELDS], axis=1)  # users x fields
    block = max(1, min(samples, 2_000_000 // max(n, 1)))
    for start in range(0, samples, block):
        stop = min(samples, start + block)
        w = rng.poisson(1.0, size=(stop - start, n)).astype(float)
        sums = w @ mat
        for j, f in enumerate(_SUM_FIELDS):
            out[f][start:stop] = sums[:, j]
    return out


def _terms_with_data(arm: ArmData) -> set[str]:
    have = set()
    if arm.closed.sum() > 0:
        have.add("containment")
    if arm.conversations.sum() > 0:
        have.add("conversion")
    if arm.csat_count.sum() > 0:
        have.add("satisfaction")
    if arm.answers.sum() > 0:
        have.add("confidence")
    return have


@dataclass
class CompositeComparison:
    control: float | None
    candidate: float | None
    lift: float | None  # candidate / control - 1
    lift_ci: tuple[float | None, float | None]
    diff_ci: tuple[float | None, float | None]
    control_ci: tuple[float | None, float | None]
    candidate_ci: tuple[float | None, float | None]
    terms: list[str]
    samples: int
    seed: int


def bootstrap_composite(control: ArmData, candidate: ArmData, *, seed: int,
                        samples: int = BOOTSTRAP_SAMPLES) -> CompositeComparison:
    """The composite of each arm and percentile bootstrap 95 % intervals (users resampled
    within each arm, seeded) of each arm's composite, their difference and the relative lift.
    Both arms use the same terms: those with data in both."""
    use = _terms_with_data(control) & _terms_with_data(candidate)
    none = (None, None)
    if not use or control.users < 2 or candidate.users < 2:
        return CompositeComparison(None, None, None, none, none, none, none, sorted(use), 0, seed)

    def point(arm: ArmData) -> float:
        sums = {f: np.array([getattr(arm, f).sum()]) for f in _SUM_FIELDS}
        return float(_composite_of_sums(sums, use)[0])

    rng = np.random.default_rng(seed)
    a = _composite_of_sums(_bootstrap_sums(control, rng, samples), use)
    b = _composite_of_sums(_bootstrap_sums(candidate, rng, samples), use)
    pa, pb = point(control), point(candidate)

    def pct(x: np.ndarray) -> tuple[float, float]:
        x = x[np.isfinite(x)]
        if not len(x):
            return None, None
        lo, hi = np.percentile(x, [2.5, 97.5])
        return float(lo), float(hi)

    with np.errstate(invalid="ignore", divide="ignore"):
        lift = b / a - 1.0
    return CompositeComparison(
        control=pa, candidate=pb, lift=(pb / pa - 1.0) if pa else None, lift_ci=pct(lift),
        diff_ci=pct(b - a), control_ci=pct(a), candidate_ci=pct(b), terms=sorted(use), samples=samples,
        seed=seed,
    )



# --- per-arm summary ----------------------------------------------------------------------------
@dataclass
class ArmSummary:
    users: int
    conversations: int
    closed: int
    containment: float | None
    containment_ci: tuple[float | None, float | None]
    conversion: float | None
    conversion_ci: tuple[float | None, float | None]
    csat: float | None
    csat_ci: tuple[float | None, float | None]
    csat_count: int
    avg_confidence: float | None
    answers: int
    error_rate: float | None
    avg_response_seconds: float | None
    cost_usd: float
    cost_per_conversation: float | None


def summarize(arm: ArmData) -> ArmSummary:
    """Per-arm metrics with 95 % intervals (per-user delta method)."""
    c = ratio(arm.contained, arm.closed, binary=True)
    v = ratio(arm.bookings, arm.conversations, binary=True)
    s = ratio(arm.csat_sum, arm.csat_count)
    conf = ratio(arm.conf_sum, arm.answers)
    err = ratio(arm.errors, arm.answers)
    frt = ratio(arm.frt_sum, arm.frt_count)
    cost = float(arm.cost_sum.sum())
    convs = int(arm.conversations.sum())
    return ArmSummary(
        users=arm.users, conversations=convs, closed=int(arm.closed.sum()),
        containment=c.value, containment_ci=c.ci(0, 1), conversion=v.value, conversion_ci=v.ci(0, 1),
        csat=s.value, csat_ci=s.ci(1, 5), csat_count=int(arm.csat_count.sum()), avg_confidence=conf.value,
        answers=int(arm.answers.sum()), error_rate=err.value, avg_response_seconds=frt.value,
        cost_usd=round(cost, 6), cost_per_conversation=(cost / convs) if convs else None,
    )



# --- sample size ------------------------------------------------------------------------------
def fixed_sample_size_per_arm(p: float, delta: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Users per arm of a classical two-sided two-proportion test (one look) to detect a change
    of ``delta`` from rate ``p`` with the given power: the textbook reference number."""
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    p2 = min(max(p + delta, 0.0), 1.0)
    return math.ceil(z * z * (p * (1 - p) + p2 * (1 - p2)) / (delta * delta))


# --- synthetic traffic (simulation tests and bench/experiments.py) ----------------------------
def synthetic_arm(rng: np.random.Generator, users: int, *, containment: float, conversion: float = 0.15,
                  csat: float = 4.2, csat_share: float = 0.3, confidence: float = 0.6,
                  error_rate: float = 0.01, closed_share: float = 0.9,
                  extra_conversations: float = 0.3) -> ArmData:
    """Synthetic users of one arm with known effects: 1 + Poisson(``extra_conversations``)
    conversations each, ``closed_share`` of them closed, closed ones contained with probability
    ``containment``, booked with ``conversion``, a CSAT (mean ``csat``, 1-5) on ``csat_share`` of
    them, 1 + Poisson(0.5) answers per conversation with mean confidence ``confidence`` and
    failures at ``error_rate``."""
    k = 1 + rng.poisson(extra_conversations, users)
    closed = rng.binomial(k, closed_share)
    contained = rng.binomial(closed, containment)
    bookings = rng.binomial(k, conversion)
    csat_count = rng.binomial(k, csat_share)
    # CSAT per conversation: 5 minus a binomial, so the mean is ``csat`` and values stay in 1..5
    drop = min(max((5.0 - csat) / 4.0, 0.0), 1.0)
    csat_sum = 5.0 * csat_count - rng.binomial(4 * csat_count, drop)
    answers = k + rng.poisson(0.5 * k)
    conf_sum = rng.binomial(answers * 10, confidence) / 10.0
    errors = rng.binomial(answers, error_rate)
    frt_count = k.astype(float)
    frt_sum = rng.gamma(2.0, 1.5, users) * k
    return ArmData(
        closed=closed.astype(float), contained=contained.astype(float), conversations=k.astype(float),
        bookings=bookings.astype(float), csat_sum=csat_sum.astype(float), csat_count=csat_count.astype(float),
        conf_sum=conf_sum.astype(float), answers=answers.astype(float), errors=errors.astype(float),
        frt_sum=frt_sum, frt_count=frt_count, cost_sum=answers * 0.0004,
    )


def take(arm: ArmData, mask: np.ndarray) -> ArmData:
    """The users of ``arm`` where ``mask`` is true (e.g. those who arrived by a given day)."""
    return ArmData(*[getattr(arm, f)[mask] for f in ArmData.__dataclass_fields__])
