"""Analysis of an experiment: the arms' per-user data, the shadow report, and the comparison.

- ``arm_data``: per-user arrays of each arm from the exposures (a conversation belongs to the
  arm of its first exposure, a user to the arm of their first conversation).
- ``shadow_report``: shadow answers against the answers sent for the same questions, and
  against later human judgement of the sent answers in the review queue.
- ``compare_performance``: per-arm containment, conversion, CSAT, confidence, error rate,
  response time and cost with intervals, always-valid tests, the composite with a bootstrap
  interval, the recommendation (``core.experiments.decision.decide``) and the days a decision
  still needs at the current traffic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.answering.responder import ESCALATION_TEXT
from core.answering.routing import text_similarity
from core.experiments.decision import Recommendation, StatsConfig, decide
from core.experiments.registry import get_experiment, label
from core.experiments.sequential import always_valid_p, paired_test
from core.experiments.stats import ArmData
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.models import (
    Conversation,
    ConversationOutcome,
    Experiment,
    ExperimentExposure,
    Message,
    ReviewItem,
    ShadowAnswer,
)
from core.platform.statuses import Arm, ConversationStatus, ExperimentMode, ReviewStatus

SAME_ANSWER_SIMILARITY = 0.6
_IN_BATCH = 500
_VERDICTS = (ReviewStatus.APPROVED, ReviewStatus.EDITED, ReviewStatus.REJECTED)


# --- collecting the arms' data -------------------------------------------------------------
def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), _IN_BATCH):
        yield ids[i : i + _IN_BATCH]


@dataclass
class _Conv:
    user: str
    arm: str
    answers: int = 0
    conf_sum: float = 0.0
    errors: int = 0


def _window(exp: Experiment, days: int | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    end = min(now, exp.ended_at) if exp.ended_at else now
    start = exp.started_at if days is None else max(exp.started_at, end - dt.timedelta(days=days))
    return start, end


def arm_data(session: Session, exp: Experiment, since: dt.datetime, until: dt.datetime
             ) -> tuple[ArmData, ArmData, dict[str, Any]]:
    """Per-user arrays of each arm from the exposures in [since, until]. A conversation
    belongs to the arm of its first exposure, a user to the arm of their first conversation;
    conversations in the other arm (after a share change) are left out and counted."""
    rows = session.execute(
        select(ExperimentExposure.conversation_id, ExperimentExposure.user_key, ExperimentExposure.arm,
               ExperimentExposure.error, Message.confidence)
        .join(Message, Message.id == ExperimentExposure.message_id)
        .where(ExperimentExposure.experiment_id == exp.id, ExperimentExposure.created_at >= since,
               ExperimentExposure.created_at <= until)
        .order_by(ExperimentExposure.id)
    ).all()
    convs: dict[int, _Conv] = {}
    user_arm: dict[str, str] = {}
    for cid, user, arm, err, conf in rows:
        c = convs.get(cid)
        if c is None:
            c = convs[cid] = _Conv(user, arm)
            user_arm.setdefault(user, arm)
        c.answers += 1
        c.conf_sum += float(conf or 0.0)
        c.errors += int(bool(err))
    crossovers = sum(1 for c in convs.values() if user_arm[c.user] != c.arm)
    per_user: dict[str, dict[str, float]] = {}
    ids = sorted(convs)
    for part in _chunks(ids):
        q = (select(Conversation.id, Conversation.status, Conversation.escalated_at,
                    ConversationOutcome.booking_converted, ConversationOutcome.csat,
                    ConversationOutcome.first_response_time_seconds, ConversationOutcome.total_cost_usd)
             .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
             .where(Conversation.id.in_(part)))
        for cid, status, esc_at, booked, csat, frt, cost in session.execute(q):
            c = convs[cid]
            if user_arm[c.user] != c.arm:
                continue
            u = per_user.setdefault(c.user, {"arm": c.arm})
            closed = status == ConversationStatus.CLOSED
            u["conversations"] = u.get("conversations", 0) + 1
            u["closed"] = u.get("closed", 0) + int(closed)
            u["contained"] = u.get("contained", 0) + int(closed and esc_at is None)
            u["bookings"] = u.get("bookings", 0) + int(bool(booked))
            if csat is not None:
                u["csat_sum"] = u.get("csat_sum", 0) + csat
                u["csat_count"] = u.get("csat_count", 0) + 1
            u["conf_sum"] = u.get("conf_sum", 0) + c.conf_sum
            u["answers"] = u.get("answers", 0) + c.answers
            u["errors"] = u.get("errors", 0) + c.errors
            if frt is not None:
                u["frt_sum"] = u.get("frt_sum", 0) + frt
                u["frt_count"] = u.get("frt_count", 0) + 1
            u["cost_sum"] = u.get("cost_sum", 0) + float(cost or 0.0)
    control = ArmData.from_rows([u for u in per_user.values() if u["arm"] == Arm.CONTROL])
    candidate = ArmData.from_rows([u for u in per_user.values() if u["arm"] == Arm.CANDIDATE])
    return control, candidate, {"crossover_conversations": crossovers}


# --- shadow comparison ---------------------------------------------------------------------
def shadow_report(session: Session, exp: Experiment, since: dt.datetime, until: dt.datetime,
                  cfg: StatsConfig) -> dict[str, Any]:
    """Shadow answers against the answers sent for the same questions (same first chunk, text
    similarity, escalation, confidence; paired per user) and against later human judgement of
    the sent answers in the review queue (approved / edited / rejected)."""
    rows = session.execute(
        select(ShadowAnswer, Message)
        .join(Message, Message.id == ShadowAnswer.message_id)
        .where(ShadowAnswer.experiment_id == exp.id, ShadowAnswer.created_at >= since,
               ShadowAnswer.created_at <= until)
        .order_by(ShadowAnswer.id)
    ).all()
    n = len(rows)
    per_user: dict[str, dict[str, list[float]]] = {}
    errors = same = sim_n = 0
    sim_sum = 0.0
    latency_c, latency_t = [], []
    for sh, msg in rows:
        if sh.error and not sh.text:
            errors += 1
            continue
        u = per_user.setdefault(sh.user_key, {"ans_c": [], "ans_t": [], "conf_c": [], "conf_t": []})
        sent_escalated = msg.redacted_content.strip() == ESCALATION_TEXT
        u["ans_c"].append(0.0 if sent_escalated else 1.0)
        u["ans_t"].append(0.0 if sh.escalated else 1.0)
        u["conf_c"].append(float(msg.confidence or 0.0))
        u["conf_t"].append(float(sh.confidence or 0.0))
        same += int(bool(sh.same_chunk))
        if sh.similarity is not None:
            sim_sum += sh.similarity
            sim_n += 1
        if msg.latency_ms is not None and sh.latency_ms is not None:
            latency_c.append(msg.latency_ms)
            latency_t.append(sh.latency_ms)
    users = list(per_user.values())

    def arr(key: str) -> np.ndarray:
        return np.array([float(np.mean(u[key])) for u in users], dtype=float)

    answered = paired_test("answered", arr("ans_c"), arr("ans_t"), tau=cfg.mde, alpha=cfg.alpha)
    confidence = paired_test("confidence", arr("conf_c"), arr("conf_t"), tau=cfg.mde, alpha=cfg.alpha)
    judged = _judgement(session, [(sh, msg) for sh, msg in rows if sh.text])
    return {
        "shadow_answers": n, "users": len(users), "errors": errors,
        "error_rate": (errors / n) if n else None,
        "same_chunk_rate": (same / (n - errors)) if n - errors else None,
        "avg_similarity": (sim_sum / sim_n) if sim_n else None,
        "answered": dataclasses.asdict(answered), "confidence": dataclasses.asdict(confidence),
        "avg_latency_ms": {"control": float(np.mean(latency_c)) if latency_c else None,
                           "candidate": float(np.mean(latency_t)) if latency_t else None},
        "judgement": judged,
    }


def _judgement(session: Session, pairs: list[tuple[ShadowAnswer, Message]]) -> dict[str, Any]:
    """How shadow answers fare against the review queue's verdicts on the sent answers:
    approved -> the shadow agrees (same chunk or similar text) is a win; edited -> the shadow
    is closer to the admin's edit than the sent answer was; rejected -> the shadow differs
    (or hands over) is a win."""
    if not pairs:
        return {"judged": 0, "wins": 0, "losses": 0, "by_verdict": {}}
    ids = [m.id for _, m in pairs]
    verdicts: dict[int, str] = {}
    for part in _chunks(ids):
        for mid, status in session.execute(
            select(ReviewItem.message_id, ReviewItem.status)
            .where(ReviewItem.message_id.in_(part), ReviewItem.status.in_(_VERDICTS))
        ):
            verdicts[mid] = status
    wins = losses = 0
    by: dict[str, dict[str, int]] = {}
    for sh, msg in pairs:
        v = verdicts.get(msg.id)
        if v is None and msg.human_edit_content:
            v = ReviewStatus.EDITED
        if v is None:
            continue
        agrees = bool(sh.same_chunk) or (sh.similarity or 0) >= SAME_ANSWER_SIMILARITY
        if v == ReviewStatus.APPROVED:
            win = agrees
        elif v == ReviewStatus.EDITED:
            gold = msg.human_edit_content or ""
            win = text_similarity(sh.text, gold) > text_similarity(msg.redacted_content, gold)
        else:
            win = sh.escalated or not agrees
        b = by.setdefault(v, {"wins": 0, "losses": 0})
        b["wins" if win else "losses"] += 1
        wins += int(win)
        losses += int(not win)
    return {"judged": wins + losses, "wins": wins, "losses": losses, "by_verdict": by}


def _shadow_decision(report: dict[str, Any], cfg: StatsConfig,
                     min_users: int) -> tuple[Recommendation, str, bool]:
    """The recommendation of a shadow test: (recommendation, reason, guardrail)."""
    ans, err_rate = report["answered"], report["error_rate"]
    n = report["shadow_answers"]
    if n >= 20 and err_rate is not None and err_rate > cfg.error_margin:
        var = err_rate * (1 - err_rate) / n + 1e-12
        p = always_valid_p(err_rate, var, cfg.mde)
        if p <= cfg.alpha:
            return Recommendation.ROLLBACK, (f"guardrail: the candidate failed on {err_rate:.1%} of shadow "
                                             f"answers (more than {cfg.error_margin:.0%}, p={p:.4f})"), True
    if ans["diff"] is not None and ans["se"]:
        p = always_valid_p(ans["diff"], ans["se"] ** 2, cfg.mde)
        if ans["diff"] < -cfg.containment_margin and p <= cfg.alpha:
            return Recommendation.ROLLBACK, (f"guardrail: the candidate would hand over "
                                             f"{-ans['diff']:.1%} more questions (more than "
                                             f"{cfg.containment_margin:.0%}, p={p:.4f})"), True
    if report["users"] < min_users:
        return (Recommendation.CONTINUE,
                f"{report['users']} users with shadow answers; no decision before {min_users}", False)
    j = report["judgement"]
    if ans["direction"] < 0:
        return Recommendation.ROLLBACK, (f"the candidate answers significantly fewer questions "
                                         f"(p={ans['p_value']:.4f})"), False
    if ans["direction"] > 0 and j["losses"] <= j["wins"]:
        return Recommendation.PROMOTE, (f"the candidate answers significantly more questions "
                                        f"({ans['candidate']:.1%} vs {ans['control']:.1%}, "
                                        f"p={ans['p_value']:.4f}) and human judgement does not "
                                        f"favour control ({j['wins']} wins, {j['losses']} losses)"), False
    return Recommendation.CONTINUE, "no significant difference between shadow and sent answers yet", False


# --- the comparison -------------------------------------------------------------------------
@dataclass
class Comparison:
    """compare_performance's answer: per-arm metrics, tests, composite, recommendation, and the
    days a decision still needs at the current traffic."""

    experiment_id: int
    name: str
    kind: str
    mode: str
    status: str
    share: float
    control_label: str
    candidate_label: str
    since: dt.datetime
    until: dt.datetime
    days_elapsed: float
    recommendation: Recommendation
    reason: str
    guardrail: bool
    enough_sample: bool
    control: dict[str, Any]
    candidate: dict[str, Any]
    tests: dict[str, Any]
    guardrails: dict[str, Any]
    composite: dict[str, Any]
    users: int
    users_per_day: float | None
    users_needed: int | None
    days_needed: float | None  # more days until a decision is expected (None: unknown)
    crossover_conversations: int = 0
    shadow: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, dt.datetime):
        return o.isoformat()
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def compare_performance(
    session: Session,
    experiment_id: int,
    settings: Settings,
    *,
    days: int | None = None,
    clock: Clock | None = None,
) -> Comparison:
    """Compare the arms over the whole experiment (``days`` = only its last ``days`` days; the
    sequential guarantees hold for the whole experiment, a window is descriptive)."""
    clock = clock or SystemClock()
    exp = get_experiment(session, experiment_id)
    cfg = StatsConfig.from_settings(settings)
    cfg.min_users_per_arm = exp.min_users_per_arm
    since, until = _window(exp, days, clock.now())
    elapsed = max((until - exp.started_at).total_seconds() / 86400.0, 0.0)
    control, candidate, extra = arm_data(session, exp, since, until)
    seed = int(hashlib.md5(exp.salt.encode()).hexdigest()[:8], 16)  # noqa: S324
    share = exp.share if exp.mode == ExperimentMode.SPLIT else 0.5
    dec = decide(control, candidate, cfg, share=share, seed=seed)
    users = control.users + candidate.users
    window_days = max((until - since).total_seconds() / 86400.0, 0.0)
    per_day = users / window_days if window_days >= 1.0 / 24 and users else None
    shadow = None
    rec, reason, guard, enough = dec.recommendation, dec.reason, dec.guardrail, dec.enough_sample
    users_needed = dec.users_needed
    if exp.mode == ExperimentMode.SHADOW:
        shadow = shadow_report(session, exp, since, until, cfg)
        rec, reason, guard = _shadow_decision(shadow, cfg, exp.min_users_per_arm)
        enough = shadow["users"] >= exp.min_users_per_arm
        users_needed = None
        per_day = shadow["users"] / window_days if window_days >= 1.0 / 24 and shadow["users"] else None
    days_needed = None
    if rec == Recommendation.CONTINUE and users_needed is not None and per_day:
        days_needed = round(max(users_needed - users, 0) / per_day, 1)
    elif rec != Recommendation.CONTINUE:
        days_needed = 0.0
    return Comparison(
        experiment_id=exp.id, name=exp.name, kind=exp.kind, mode=exp.mode, status=exp.status,
        share=exp.share, control_label=label(exp.control), candidate_label=label(exp.candidate),
        since=since, until=until, days_elapsed=round(elapsed, 2), recommendation=rec, reason=reason,
        guardrail=guard, enough_sample=enough,
        control=dataclasses.asdict(dec.control), candidate=dataclasses.asdict(dec.candidate),
        tests={k: dataclasses.asdict(v) for k, v in dec.tests.items()}, guardrails=dec.guardrails,
        composite=dataclasses.asdict(dec.composite), users=users,
        users_per_day=round(per_day, 2) if per_day else None, users_needed=users_needed,
        days_needed=days_needed, crossover_conversations=extra["crossover_conversations"], shadow=shadow,
    )


def record_comparison(exp: Experiment, cmp: Comparison, now: dt.datetime) -> None:
    """Keep a comparison's recommendation and numbers on the experiment (its last look)."""
    exp.recommendation = cmp.recommendation
    exp.last_comparison = cmp.as_dict()
    exp.last_checked_at = now
