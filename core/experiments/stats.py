"""Statistics of experiments: per-user metrics, an always-valid sequential test, bootstrap
intervals on the composite score, the decision and how many more days it needs.

Everything here is pure numpy on per-user arrays (:class:`ArmData`), so the same functions
serve the database path (``core.experiments.lifecycle.compare_performance``) and the simulation tests.

Unit of analysis: the **user** (the unit that is randomised). A rate such as containment is
the ratio of sums over the arm's users (contained / closed conversations, as everywhere in
supportloop) and its variance is the delta-method (cluster-robust) variance over users, so a
user with ten conversations does not count as ten independent observations.

Sequential test: the mixture sequential probability ratio test (mSPRT, Johari, Pekelis and
Walsh, "Always valid inference", 2017). For a difference estimate ``d`` with variance ``V``
and a normal mixture of effects with standard deviation ``tau`` around ``theta0``::

    L = sqrt(V / (V + tau^2)) * exp(tau^2 (d - theta0)^2 / (2 V (V + tau^2)))

Under ``theta = theta0`` the probability that ``L`` ever reaches ``1/alpha`` — at any number
of looks, planned or not — is at most ``alpha``; ``1/L`` is an always-valid p-value. So the
runner may re-check an experiment every day (and an admin as often as they like) without
inflating the false-promotion rate, and the experiment may be extended from 7 to 14 days.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

PROMOTE = "PROMOTE"
ROLLBACK = "ROLLBACK"
CONTINUE = "CONTINUE_TESTING"

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


# --- the sequential test ---------------------------------------------------------------------
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


# --- sample size and days needed -------------------------------------------------------------
def fixed_sample_size_per_arm(p: float, delta: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Users per arm of a classical two-sided two-proportion test (one look) to detect a change
    of ``delta`` from rate ``p`` with the given power: the textbook reference number."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    p2 = min(max(p + delta, 0.0), 1.0)
    return math.ceil(z * z * (p * (1 - p) + p2 * (1 - p2)) / (delta * delta))


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


# --- the decision -----------------------------------------------------------------------------
@dataclass
class StatsConfig:
    """The decision rules' parameters (from settings; see docs/experiments.md)."""

    alpha: float = 0.05
    min_users_per_arm: int = 100
    mde: float = 0.05  # the effect of interest on rates: mixture sd and days estimate
    containment_margin: float = 0.05
    csat_margin: float = 0.3
    error_margin: float = 0.05
    composite_margin: float = 0.05
    csat_tau: float = 0.3
    bootstrap_samples: int = BOOTSTRAP_SAMPLES

    @classmethod
    def from_settings(cls, settings) -> StatsConfig:
        return cls(
            alpha=settings.experiment_alpha,
            min_users_per_arm=settings.experiment_min_users_per_arm,
            mde=settings.experiment_mde,
            containment_margin=settings.experiment_containment_margin,
            csat_margin=settings.experiment_csat_margin,
            error_margin=settings.experiment_error_margin,
            composite_margin=settings.experiment_composite_margin,
        )


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


@dataclass
class Decision:
    """What the comparison recommends and the numbers behind it."""

    recommendation: str
    reason: str
    guardrail: bool
    enough_sample: bool
    control: ArmSummary
    candidate: ArmSummary
    tests: dict[str, DiffTest]
    guardrails: dict[str, dict]
    composite: CompositeComparison
    users_needed: int | None  # total users at which a decision is expected (planning estimate)
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _sd_of_rate(est: RatioEstimate) -> float:
    """Per-user standard deviation implied by an estimate (for planning)."""
    if est.se is not None and est.users > 1:
        return est.se * math.sqrt(est.users)
    p = est.value if est.value is not None else 0.5
    return math.sqrt(max(p * (1 - p), 0.05))


def decide(control: ArmData, candidate: ArmData, cfg: StatsConfig, *, share: float = 0.5,
           seed: int = 0, report: bool = True) -> Decision:
    """The recommendation at one look (split mode), in this order:

    1. **Guardrails** (checked at every look, even before the minimum sample): the
       candidate's containment below control by more than ``containment_margin``, its CSAT
       below by more than ``csat_margin``, or its error rate above by more than
       ``error_margin``, each observed and with the drop significant (always valid)
       -> ROLLBACK (guardrail).
    2. Fewer than ``min_users_per_arm`` users in either arm -> CONTINUE_TESTING.
    3. Containment or conversion significantly worse (mSPRT) -> ROLLBACK.
    4. Containment or conversion significantly better (mSPRT; the other not significantly
       worse) and the composite's interval of the lift not reaching below
       -``composite_margin`` (the seed's 5 % margin as a non-inferiority bound) -> PROMOTE.
    5. Otherwise CONTINUE_TESTING.

    Each primary metric is tested two-sided at ``alpha``; a false promotion needs a false
    'better' on one of the two (at most alpha/2 each), so the false-promotion rate is at most
    ``alpha`` however often this is called. ``report=False`` skips the bootstrap when the
    decision does not need it (simulations); the recommendation is the same.
    """
    ctl, cand = summarize(control), summarize(candidate)
    rc = ratio(control.contained, control.closed, binary=True)
    rt = ratio(candidate.contained, candidate.closed, binary=True)
    vc = ratio(control.bookings, control.conversations, binary=True)
    vt = ratio(candidate.bookings, candidate.conversations, binary=True)
    sc, st = ratio(control.csat_sum, control.csat_count), ratio(candidate.csat_sum, candidate.csat_count)
    ec = ratio(control.errors, control.answers, binary=True)
    et = ratio(candidate.errors, candidate.answers, binary=True)
    tau = cfg.mde
    tests = {
        "containment": diff_test("containment", rc, rt, tau=tau, alpha=cfg.alpha),
        "conversion": diff_test("conversion", vc, vt, tau=tau, alpha=cfg.alpha),
        "csat": diff_test("csat", sc, st, tau=cfg.csat_tau, alpha=cfg.alpha),
        "error_rate": diff_test("error_rate", ec, et, tau=tau, alpha=cfg.alpha, higher_is_better=False),
    }
    g_cont = worse_by_more_than(rc, rt, cfg.containment_margin, tau=tau, alpha=cfg.alpha)
    g_csat = worse_by_more_than(sc, st, cfg.csat_margin, tau=cfg.csat_tau, alpha=cfg.alpha)
    g_err = worse_by_more_than(ec, et, cfg.error_margin, tau=tau, alpha=cfg.alpha, higher_is_better=False)
    guardrails = {
        "containment": {"breached": g_cont[0], "p_value": g_cont[1], "margin": cfg.containment_margin},
        "csat": {"breached": g_csat[0], "p_value": g_csat[1], "margin": cfg.csat_margin},
        "error_rate": {"breached": g_err[0], "p_value": g_err[1], "margin": cfg.error_margin},
    }
    users_needed = None
    if 0 < share < 1:
        needs = [
            sequential_users_needed(_sd_of_rate(a), _sd_of_rate(b), share, cfg.mde, tau=tau, alpha=cfg.alpha)
            for a, b in ((rc, rt), (vc, vt))
        ]
        min_total = math.ceil(cfg.min_users_per_arm / min(share, 1 - share))
        users_needed = max(min(needs), min_total)

    cache: dict[str, CompositeComparison] = {}

    def composite_cmp() -> CompositeComparison:
        if "c" not in cache:
            cache["c"] = bootstrap_composite(control, candidate, seed=seed, samples=cfg.bootstrap_samples)
        return cache["c"]

    def out(rec: str, reason: str, guard: bool = False, enough: bool = True) -> Decision:
        comp = composite_cmp() if report or "c" in cache else CompositeComparison(
            None, None, None, (None, None), (None, None), (None, None), (None, None), [], 0, seed)
        return Decision(rec, reason, guard, enough, ctl, cand, tests, guardrails, comp, users_needed)

    breached = [k for k, g in guardrails.items() if g["breached"]]
    if breached:
        parts = []
        for k in breached:
            t = tests[k]
            parts.append(f"{k} {_fmt(t.candidate)} vs {_fmt(t.control)} (worse by more than "
                         f"{guardrails[k]['margin']:g}, p={guardrails[k]['p_value']:.4f})")
        return out(ROLLBACK, "guardrail: " + "; ".join(parts), guard=True)
    n_min = min(ctl.users, cand.users)
    if n_min < cfg.min_users_per_arm:
        return out(CONTINUE, f"{n_min} users in the smaller arm; no decision before "
                             f"{cfg.min_users_per_arm} per arm", enough=False)
    primary = [tests["containment"], tests["conversion"]]
    worse = [t for t in primary if t.direction < 0]
    better = [t for t in primary if t.direction > 0]
    if worse:
        t = worse[0]
        return out(ROLLBACK, f"{t.metric} significantly worse: {_fmt(t.candidate)} vs {_fmt(t.control)} "
                             f"(always-valid p={t.p_value:.4f})")
    if not better:
        return out(CONTINUE, "no significant difference in containment or conversion yet")
    comp = composite_cmp()
    lo, hi = comp.lift_ci
    if lo is None or lo >= -cfg.composite_margin:
        t = better[0]
        return out(PROMOTE, f"{t.metric} significantly better: {_fmt(t.candidate)} vs {_fmt(t.control)} "
                            f"(always-valid p={t.p_value:.4f}); composite lift "
                            f"{_pct(comp.lift)} (95 % CI {_pct(lo)} to {_pct(hi)})")
    t = better[0]
    return out(CONTINUE, f"{t.metric} significantly better but the composite may be more than "
                         f"{cfg.composite_margin:.0%} worse (95 % CI of the lift from {_pct(lo)})")


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1%}"


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


@dataclass
class SimulationRun:
    recommendation: str
    day: int  # the look (1-based) that decided, or the last look
    guardrail: bool
    users_per_arm: tuple[int, int]


def simulate(seed: int, *, days: int, users_per_day: int, share: float, control: dict, candidate: dict,
             cfg: StatsConfig) -> SimulationRun:
    """One experiment on synthetic traffic with daily looks: users arrive evenly over ``days``,
    are split by ``share``; ``decide`` runs after each day and the first non-CONTINUE stops it.
    ``control`` / ``candidate`` are keyword arguments of :func:`synthetic_arm`."""
    rng = np.random.default_rng(seed)
    n = users_per_day * days
    in_candidate = rng.random(n) < share
    day = np.repeat(np.arange(days), users_per_day)
    c = synthetic_arm(rng, int((~in_candidate).sum()), **control)
    t = synthetic_arm(rng, int(in_candidate.sum()), **candidate)
    dc, dt_ = day[~in_candidate], day[in_candidate]
    dec = None
    for d in range(1, days + 1):
        a, b = take(c, dc < d), take(t, dt_ < d)
        dec = decide(a, b, cfg, share=share, seed=seed, report=False)
        if dec.recommendation != CONTINUE:
            return SimulationRun(dec.recommendation, d, dec.guardrail, (a.users, b.users))
    return SimulationRun(CONTINUE, days, False, (a.users, b.users))
