"""The decision of an experiment at one look: guardrails, minimum sample, the sequential tests
of the primary metrics and the composite's non-inferiority (``decide``), and the simulation
of that rule on synthetic traffic with daily looks (``simulate``, used by the tests and
``bench/experiments.py``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np

from core.experiments.sequential import DiffTest, diff_test, sequential_users_needed, worse_by_more_than
from core.experiments.stats import (
    BOOTSTRAP_SAMPLES,
    ArmData,
    ArmSummary,
    CompositeComparison,
    RatioEstimate,
    bootstrap_composite,
    ratio,
    summarize,
    synthetic_arm,
    take,
)
from core.platform.config import Settings


class Recommendation(StrEnum):
    """What a comparison recommends (also the decision stored on a decided experiment)."""

    PROMOTE = "PROMOTE"
    ROLLBACK = "ROLLBACK"
    CONTINUE = "CONTINUE_TESTING"


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
    def from_settings(cls, settings: Settings) -> StatsConfig:
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
class Decision:
    """What the comparison recommends and the numbers behind it."""

    recommendation: Recommendation
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

    def out(rec: Recommendation, reason: str, guard: bool = False, enough: bool = True) -> Decision:
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
        return out(Recommendation.ROLLBACK, "guardrail: " + "; ".join(parts), guard=True)
    n_min = min(ctl.users, cand.users)
    if n_min < cfg.min_users_per_arm:
        return out(Recommendation.CONTINUE, f"{n_min} users in the smaller arm; no decision before "
                                            f"{cfg.min_users_per_arm} per arm", enough=False)
    primary = [tests["containment"], tests["conversion"]]
    worse = [t for t in primary if t.direction < 0]
    better = [t for t in primary if t.direction > 0]
    if worse:
        t = worse[0]
        return out(Recommendation.ROLLBACK, f"{t.metric} significantly worse: {_fmt(t.candidate)} vs "
                                            f"{_fmt(t.control)} (always-valid p={t.p_value:.4f})")
    if not better:
        return out(Recommendation.CONTINUE, "no significant difference in containment or conversion yet")
    comp = composite_cmp()
    lo, hi = comp.lift_ci
    t = better[0]
    if lo is None or lo >= -cfg.composite_margin:
        return out(Recommendation.PROMOTE, f"{t.metric} significantly better: {_fmt(t.candidate)} vs "
                                           f"{_fmt(t.control)} (always-valid p={t.p_value:.4f}); composite "
                                           f"lift {_pct(comp.lift)} (95 % CI {_pct(lo)} to {_pct(hi)})")
    return out(Recommendation.CONTINUE, f"{t.metric} significantly better but the composite may be more "
                                        f"than {cfg.composite_margin:.0%} worse (95 % CI of the lift from "
                                        f"{_pct(lo)})")


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1%}"


# --- simulation on synthetic traffic ---------------------------------------------------------
@dataclass
class SimulationRun:
    recommendation: Recommendation
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
        if dec.recommendation != Recommendation.CONTINUE:
            return SimulationRun(dec.recommendation, d, dec.guardrail, (a.users, b.users))
    return SimulationRun(Recommendation.CONTINUE, days, False, (a.users, b.users))
