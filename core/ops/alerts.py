"""Alerts: rules in the database, checked every few minutes by the ``metrics`` job.

A **metric rule** compares a KPI of the conversations started in its window (see
:func:`core.ops.metric_sql.window_metrics`) with a threshold. The window starts at
``window_minutes`` and doubles until it holds ``min_volume`` (closed conversations for
containment, CSAT answers for CSAT, replies for first response time, conversations
otherwise), up to ``max_window_minutes``; with too little data the rule is left as it is.
Special metrics: ``training_pace`` (approved training examples this quarter / the straight-line
pace toward ``training_examples_quarter_target``), ``jobs_failing`` and ``jobs_overdue``
(from the job runs). A rule without a threshold on ``cost_usd`` uses
``daily_cost_budget_usd``.

An **event rule** fires while events whose kind starts with ``metric`` (e.g.
``kb.refresh_failed``) were recorded within its window, and resolves when the window holds none.

Each breach is one ``alert`` row: it fires once and resolves once, and each of the two is
sent once by e-mail (``alert_email_to``) and once by webhook (``alert_webhook_url``, a
Slack-compatible ``{"text": ...}`` body with the alert as structured data too); an empty
setting turns that channel off. A failed send is retried at the next check. After an alert
resolves, its rule does not fire again within ``cooldown_minutes``.

Changing or adding a rule needs the ``edit_alerts`` right.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.ops.metric_sql import KPI_NAMES, window_metrics
from core.ops.metrics import training_pace
from core.platform import audit
from core.platform.actors import Actor, require
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.errors import NotFound, SupportloopError, ValidationError
from core.platform.models import (
    ALERT_COMPARISONS,
    ALERT_RULE_KINDS,
    CHANNELS,
    SEVERITIES,
    Alert,
    AlertRule,
    Event,
)
from core.platform.services import Notifier
from core.platform.statuses import AlertRuleKind, AlertState, Severity

# which count a metric rule's min_volume is compared with
VOLUME_OF = {
    "containment_rate": "closed",
    "csat_avg": "csat_responses",
    "frt_p50_s": "frt_count",
    "frt_p90_s": "frt_count",
}
SPECIAL_METRICS = ("training_pace", "jobs_failing", "jobs_overdue")
METRIC_NAMES = KPI_NAMES + SPECIAL_METRICS
# what each metric is called in messages, the dashboard and notifications
METRIC_LABELS = {
    "conversations": "Conversations", "containment_rate": "Containment", "escalation_rate": "Hand-off rate",
    "csat_avg": "CSAT", "csat_responses": "CSAT answers", "conversion_rate": "Conversion",
    "bookings": "Bookings", "booking_value_usd": "Booking value", "frt_p50_s": "First response time (median)",
    "frt_p90_s": "First response time (p90)", "cost_usd": "Model cost",
    "cost_per_conversation_usd": "Cost per conversation", "cost_per_resolution_usd": "Cost per resolution",
    "feedback_rate": "Feedback rate", "successful_outcome_rate": "Successful outcomes",
    "training_pace": "Training examples against the quarter's pace", "jobs_failing": "Failing jobs",
    "jobs_overdue": "Overdue jobs",
}
VOLUME_LABELS = {"closed": "closed conversations", "csat_responses": "CSAT answers",
                 "frt_count": "first replies", "conversations": "conversations"}
DAY = 1440
WEEK = 7 * DAY

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    dict(name="containment_low", title="Containment below 80 %", metric="containment_rate",
         comparison="<", threshold=0.80, window_minutes=60, max_window_minutes=DAY, min_volume=20),
    dict(name="csat_low", title="CSAT below 4.0", metric="csat_avg", comparison="<", threshold=4.0,
         window_minutes=60, max_window_minutes=DAY, min_volume=5),
    dict(name="feedback_rate_low", title="Feedback rate below 15 % over a week", metric="feedback_rate",
         comparison="<", threshold=0.15, window_minutes=WEEK, max_window_minutes=WEEK, min_volume=20,
         cooldown_minutes=DAY),
    dict(name="training_behind_pace", title="Approved training examples behind the quarter's pace",
         metric="training_pace", comparison="<", threshold=1.0, window_minutes=DAY,
         max_window_minutes=DAY, cooldown_minutes=DAY, severity=Severity.INFO),
    dict(name="frt_p90_high", title="First response time p90 above 60 s", metric="frt_p90_s",
         comparison=">", threshold=60.0, window_minutes=60, max_window_minutes=DAY, min_volume=20),
    dict(name="daily_cost_high", title="Model cost over 24 hours above budget", metric="cost_usd",
         comparison=">", threshold=None, window_minutes=DAY, max_window_minutes=DAY,
         cooldown_minutes=360, severity=Severity.ERROR),
    dict(name="kb_refresh_rejected", title="KB refresh rejected by the evaluation gate",
         kind=AlertRuleKind.EVENT, metric="kb.refresh_rejected", comparison=">", threshold=0,
         window_minutes=DAY, max_window_minutes=DAY, cooldown_minutes=0),
    dict(name="kb_refresh_failed", title="KB refresh failed", kind=AlertRuleKind.EVENT,
         metric="kb.refresh_failed", comparison=">", threshold=0, window_minutes=DAY,
         max_window_minutes=DAY, cooldown_minutes=0, severity=Severity.ERROR),
    dict(name="finetune_failed", title="Fine-tune failed", kind=AlertRuleKind.EVENT,
         metric="finetune.failed", comparison=">", threshold=0, window_minutes=DAY,
         max_window_minutes=DAY, cooldown_minutes=0, severity=Severity.ERROR),
    dict(name="experiment_rolled_back", title="Experiment rolled back", kind=AlertRuleKind.EVENT,
         metric="experiment.rolled_back", comparison=">", threshold=0, window_minutes=DAY,
         max_window_minutes=DAY, cooldown_minutes=0),
    dict(name="jobs_failing", title="A scheduled job is failing", metric="jobs_failing", comparison=">",
         threshold=0, window_minutes=5, max_window_minutes=5, cooldown_minutes=0, severity=Severity.ERROR),
    dict(name="jobs_overdue", title="A scheduled job missed its time", metric="jobs_overdue",
         comparison=">", threshold=0, window_minutes=5, max_window_minutes=5, cooldown_minutes=0,
         severity=Severity.ERROR),
)

RULE_FIELDS = ("title", "comparison", "threshold", "window_minutes", "max_window_minutes", "channel",
               "min_volume", "cooldown_minutes", "severity", "enabled")


# --- rules ------------------------------------------------------------------------------------
def _validate_rule(rule: AlertRule) -> None:
    if rule.kind not in ALERT_RULE_KINDS:
        raise ValidationError(f"Rule kind must be one of {', '.join(ALERT_RULE_KINDS)}.")
    if rule.comparison not in ALERT_COMPARISONS:
        raise ValidationError(f"Comparison must be one of {', '.join(ALERT_COMPARISONS)}.")
    if rule.kind == AlertRuleKind.METRIC and rule.metric not in METRIC_NAMES:
        raise ValidationError(f"Unknown metric {rule.metric!r}; use one of {', '.join(METRIC_NAMES)}.")
    if rule.kind == AlertRuleKind.EVENT and not rule.metric:
        raise ValidationError("An event rule needs the event kind (prefix) in `metric`.")
    if rule.channel is not None and rule.channel not in CHANNELS:
        raise ValidationError(f"Unknown channel {rule.channel!r}; use one of {', '.join(CHANNELS)}.")
    if rule.severity not in SEVERITIES:
        raise ValidationError(f"Severity must be one of {', '.join(SEVERITIES)}.")
    if not (1 <= rule.window_minutes <= rule.max_window_minutes):
        raise ValidationError("window_minutes must be at least 1 and at most max_window_minutes.")
    if rule.min_volume < 0 or rule.cooldown_minutes < 0:
        raise ValidationError("min_volume and cooldown_minutes cannot be negative.")
    if rule.threshold is None and rule.metric != "cost_usd":
        raise ValidationError("Only the cost rule may leave its threshold empty (it uses the budget).")


def seed_default_rules(session: Session, clock: Clock) -> int:
    """Add the default rules that are missing (by name); returns how many were added."""
    have = set(session.scalars(select(AlertRule.name)))
    added = 0
    for spec in DEFAULT_RULES:
        if spec["name"] in have:
            continue
        values = {"kind": AlertRuleKind.METRIC, "cooldown_minutes": 60, "severity": Severity.WARNING,
                  "min_volume": 0, "enabled": True, **spec}
        rule = AlertRule(**values, created_at=clock.now(), updated_at=clock.now())
        _validate_rule(rule)
        session.add(rule)
        added += 1
    session.flush()
    return added


def rule_as_dict(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.id, "name": rule.name, "title": rule.title, "kind": rule.kind, "metric": rule.metric,
        "comparison": rule.comparison, "threshold": rule.threshold, "window_minutes": rule.window_minutes,
        "max_window_minutes": rule.max_window_minutes, "channel": rule.channel,
        "min_volume": rule.min_volume, "cooldown_minutes": rule.cooldown_minutes,
        "severity": rule.severity, "enabled": rule.enabled,
    }


def list_rules(session: Session) -> list[dict[str, Any]]:
    """Every rule, in the order they were added."""
    return [rule_as_dict(r) for r in session.scalars(select(AlertRule).order_by(AlertRule.id))]


def update_rule(session: Session, name: str, clock: Clock, *, actor: Actor, **changes: Any) -> dict[str, Any]:
    """Change fields of rule ``name`` (threshold, window, enabled, ...), validated; ``actor``
    needs the ``edit_alerts`` right."""
    require(actor, "edit_alerts")
    rule = session.scalar(select(AlertRule).where(AlertRule.name == name))
    if rule is None:
        raise NotFound(f"No alert rule named {name!r}; `supportloop alerts rules` lists them.")
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValidationError(
            f"Cannot change {', '.join(sorted(unknown))}; fields: {', '.join(RULE_FIELDS)}."
        )
    candidate = AlertRule(**{**{k: getattr(rule, k) for k in ("name", "kind", "metric", *RULE_FIELDS)},
                             **changes})
    _validate_rule(candidate)  # on a detached copy: a rejected change leaves the rule untouched
    for key, value in changes.items():
        setattr(rule, key, value)
    rule.updated_at = clock.now()
    session.flush()
    return rule_as_dict(rule)


def create_rule(session: Session, clock: Clock, *, actor: Actor, **values: Any) -> dict[str, Any]:
    """Add a rule (name, title, metric, comparison, threshold, ...), validated; ``actor`` needs
    the ``edit_alerts`` right."""
    require(actor, "edit_alerts")
    if not re.fullmatch(r"[a-z0-9_]{1,60}", str(values.get("name") or "")):
        raise ValidationError("A rule's short name is 1-60 small letters, digits or _ (e.g. sms_busy).")
    if session.scalar(select(AlertRule).where(AlertRule.name == values.get("name"))):
        raise ValidationError(f"An alert rule named {values.get('name')!r} exists; change it instead.")
    values = {"kind": AlertRuleKind.METRIC, "cooldown_minutes": 60, "severity": Severity.WARNING,
              "min_volume": 0, "enabled": True, "window_minutes": 60, "max_window_minutes": DAY, **values}
    rule = AlertRule(**values, created_at=clock.now(), updated_at=clock.now())
    _validate_rule(rule)
    session.add(rule)
    session.flush()
    return rule_as_dict(rule)


def delete_rule(session: Session, name: str, clock: Clock, *, actor: Actor) -> dict[str, Any]:
    """Delete rule ``name`` and its alert history (``edit_alerts`` right; audited). Returns the
    deleted rule. To keep the history, disable the rule instead."""
    require(actor, "edit_alerts")
    rule = session.scalar(select(AlertRule).where(AlertRule.name == name))
    if rule is None:
        raise NotFound(f"No alert rule named {name!r}; `supportloop alerts rules` lists them.")
    gone = rule_as_dict(rule)
    alerts_gone = session.execute(delete(Alert).where(Alert.rule_id == rule.id)).rowcount
    session.delete(rule)
    audit.record(session, actor.name, "alert_rule.delete", "alert_rule", gone["id"], before=gone,
                 after={"alerts_deleted": alerts_gone}, clock=clock)
    session.flush()
    return gone


def try_rule(session: Session, name: str, settings: Settings, clock: Clock,
             job_health: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """What rule ``name`` would say if it were checked now, changing nothing: ``verdict`` is
    ``fires``, ``quiet`` or ``not enough data``, with the value and the text of the check."""
    rule = session.scalar(select(AlertRule).where(AlertRule.name == name))
    if rule is None:
        raise NotFound(f"No alert rule named {name!r}; `supportloop alerts rules` lists them.")
    ev = evaluate_rule(session, rule, settings, clock, job_health)
    verdict = "not enough data" if ev.breached is None else "fires" if ev.breached else "quiet"
    return {"rule": name, "verdict": verdict, "value": ev.value, "threshold": ev.threshold,
            "volume": ev.volume, "window_minutes": ev.window_minutes, "text": ev.text}


# --- evaluating one rule -----------------------------------------------------------------------
@dataclass
class Evaluation:
    breached: bool | None  # None: not enough data to say
    value: float | None
    threshold: float | None
    volume: int | None
    window_minutes: int
    text: str


def _threshold(rule: AlertRule, settings: Settings) -> float:
    if rule.threshold is None and rule.metric == "cost_usd":
        return settings.daily_cost_budget_usd
    return float(rule.threshold or 0.0)


def _compare(value: float, comparison: str, threshold: float) -> bool:
    return value < threshold if comparison == "<" else value > threshold


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric.endswith("_rate") or metric == "training_pace":
        return f"{value * 100:.1f} %"
    if metric.endswith("_usd"):
        return f"${value:,.2f}"
    if metric.endswith("_s"):
        return f"{value:.0f} s"
    if metric == "csat_avg":
        return f"{value:.2f}"
    return f"{value:g}"


def window_text(minutes: int) -> str:
    """``1 day``, ``3 days``, ``2 h``, ``15 min``."""
    if minutes % DAY == 0:
        return f"{minutes // DAY} day" + ("s" if minutes // DAY != 1 else "")
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def metric_label(metric: str) -> str:
    """A rule's metric in plain words (an event rule's kind is shown as it is)."""
    return METRIC_LABELS.get(metric, metric)


def condition_text(rule: dict[str, Any] | AlertRule) -> str:
    """``below 80.0 %`` / ``above $30.00`` / ``more than 0 events``: when a rule fires."""
    get = rule.get if isinstance(rule, dict) else lambda k: getattr(rule, k)
    word = "below" if get("comparison") == "<" else "above"
    if get("kind") == AlertRuleKind.EVENT:
        more = "more" if get("comparison") == ">" else "fewer"
        return f"{more} than {get('threshold') or 0:g} time(s) in {window_text(get('max_window_minutes'))}"
    if get("threshold") is None:
        return f"{word} the daily cost budget"
    return f"{word} {format_value(get('metric'), get('threshold'))}"


def evaluate_rule(
    session: Session,
    rule: AlertRule,
    settings: Settings,
    clock: Clock,
    job_health: dict[str, list[str]] | None = None,
) -> Evaluation:
    """Whether ``rule`` is breached now, with the value, volume and window it looked at."""
    now = clock.now()
    threshold = _threshold(rule, settings)
    if rule.kind == AlertRuleKind.EVENT:
        since = now - dt.timedelta(minutes=rule.max_window_minutes)
        count, latest = session.execute(
            select(func.count(), func.max(Event.created_at)).where(
                Event.kind.startswith(rule.metric), Event.created_at > since, Event.created_at <= now
            )
        ).one()
        subject = None
        if count:
            subject = session.scalar(
                select(Event.subject).where(Event.kind.startswith(rule.metric), Event.created_at == latest)
                .order_by(Event.id.desc()).limit(1)
            )
        times = "once" if count == 1 else f"{count} times"
        text = f"Happened {times} in the last {window_text(rule.max_window_minutes)}"
        if subject:
            text += f"; latest: {subject}"
        return Evaluation(_compare(count, rule.comparison, threshold), float(count), threshold, count,
                          rule.max_window_minutes, text)

    if rule.metric in ("jobs_failing", "jobs_overdue"):
        if job_health is None:
            return Evaluation(None, None, threshold, None, rule.window_minutes, "job health unknown")
        names = job_health.get(rule.metric.split("_")[1], [])
        what = "failing" if rule.metric == "jobs_failing" else "overdue"
        text = f"{len(names)} job(s) {what}" + (f": {', '.join(names)}" if names else "")
        return Evaluation(_compare(len(names), rule.comparison, threshold), float(len(names)), threshold,
                          len(names), rule.window_minutes, text)

    if rule.metric == "training_pace":
        pace = training_pace(session, now, settings.training_examples_quarter_target)
        expected, approved = pace["expected_by_now"], pace["approved"]
        if expected < 1:
            return Evaluation(None, None, threshold, approved, rule.window_minutes, "too early")
        value = approved / expected
        text = (f"{approved} approved training examples this quarter, {expected:.0f} expected by now "
                f"toward {pace['target']}")
        return Evaluation(_compare(value, rule.comparison, threshold), value, threshold, approved,
                          rule.window_minutes, text)

    volume_key = VOLUME_OF.get(rule.metric, "conversations")
    window = rule.window_minutes
    end = now + dt.timedelta(seconds=1)
    while True:
        m = window_metrics(session, now - dt.timedelta(minutes=window), end, rule.channel)
        volume = int(m[volume_key] or 0)
        if volume >= rule.min_volume or window >= rule.max_window_minutes:
            break
        window = min(window * 2, rule.max_window_minutes)
    value = m[rule.metric]
    where = f" on {rule.channel}" if rule.channel else ""
    word = "below" if rule.comparison == "<" else "above"
    text = (f"{metric_label(rule.metric)} {format_value(rule.metric, value)} (alert when {word} "
            f"{format_value(rule.metric, threshold)}) over the last {window_text(window)}{where}, "
            f"{volume} {VOLUME_LABELS.get(volume_key, volume_key)}")
    if volume < rule.min_volume or value is None:
        return Evaluation(None, value, threshold, volume, window, text + " (not enough data)")
    return Evaluation(_compare(value, rule.comparison, threshold), value, threshold, volume, window, text)


# --- checking all rules ------------------------------------------------------------------------
def _firing(session: Session, rule_id: int) -> Alert | None:
    return session.scalar(
        select(Alert)
        .where(Alert.rule_id == rule_id, Alert.state == AlertState.FIRING)
        .order_by(Alert.id.desc())
    )


def _last_resolved(session: Session, rule_id: int) -> Alert | None:
    return session.scalar(
        select(Alert).where(Alert.rule_id == rule_id, Alert.state == AlertState.RESOLVED)
        .order_by(Alert.resolved_at.desc()).limit(1)
    )


def check_alerts(
    session: Session,
    settings: Settings,
    clock: Clock,
    notifier: Notifier,
    *,
    job_health: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Evaluate every enabled rule, fire and resolve alerts, and send pending notifications.
    Seeds the default rules when there are none. The caller commits."""
    now = clock.now()
    if session.scalar(select(func.count()).select_from(AlertRule)) == 0:
        seed_default_rules(session, clock)
    fired, resolved, cooling, unknown = [], [], [], []
    for rule in session.scalars(select(AlertRule).order_by(AlertRule.id)).all():
        open_alert = _firing(session, rule.id)
        if not rule.enabled:
            if open_alert is not None:
                _resolve(open_alert, now, "the rule was disabled")
                resolved.append(rule.name)
            continue
        ev = evaluate_rule(session, rule, settings, clock, job_health)
        if open_alert is not None:
            open_alert.last_value = ev.value
            open_alert.last_checked_at = now
        if ev.breached is None:
            unknown.append(rule.name)
        elif ev.breached and open_alert is None:
            last = _last_resolved(session, rule.id)
            cooldown = dt.timedelta(minutes=rule.cooldown_minutes)
            if last and last.resolved_at and now < last.resolved_at + cooldown:
                cooling.append(rule.name)
                continue
            session.add(Alert(
                rule_id=rule.id, state=AlertState.FIRING, value=ev.value, threshold=ev.threshold,
                volume=ev.volume, window_minutes=ev.window_minutes, message=ev.text, fired_at=now,
                last_value=ev.value, last_checked_at=now, notified={},
                details={"metric": rule.metric, "channel": rule.channel},
            ))
            fired.append(rule.name)
        elif not ev.breached and open_alert is not None:
            _resolve(open_alert, now, ev.text)
            resolved.append(rule.name)
    session.flush()
    sent = deliver_pending(session, settings, clock, notifier)
    firing = session.scalar(select(func.count()).select_from(Alert).where(Alert.state == AlertState.FIRING))
    return {"fired": fired, "resolved": resolved, "cooling_down": cooling, "not_enough_data": unknown,
            "firing": firing, "sent": sent}


def _resolve(alert: Alert, now: dt.datetime, text: str) -> None:
    alert.state = AlertState.RESOLVED
    alert.resolved_at = now
    alert.details = {**(alert.details or {}), "resolved_because": text}


# --- notifications ----------------------------------------------------------------------------
def _targets(settings: Settings) -> list[str]:
    out = []
    if settings.alert_email_to.strip():
        out.append("email")
    if settings.alert_webhook_url.strip():
        out.append("webhook")
    return out


def alert_as_dict(alert: Alert) -> dict[str, Any]:
    rule = alert.rule

    def iso(v):
        return v.isoformat() if v else None

    return {
        "id": alert.id, "rule": rule.name, "title": rule.title, "severity": rule.severity,
        "metric": rule.metric, "state": alert.state, "value": alert.value, "threshold": alert.threshold,
        "volume": alert.volume, "window_minutes": alert.window_minutes, "message": alert.message,
        "fired_at": iso(alert.fired_at), "resolved_at": iso(alert.resolved_at),
        "last_value": alert.last_value, "notified": alert.notified or {},
        "notify_error": alert.notify_error,
        "resolved_because": (alert.details or {}).get("resolved_because"),
    }


def render(alert: Alert, phase: str) -> tuple[str, str, dict[str, Any]]:
    """Subject, plain text and webhook payload of an alert's fire or resolve notice."""
    rule = alert.rule
    word = "FIRING" if phase == "fire" else "RESOLVED"
    subject = f"[supportloop] {word}: {rule.title}"
    lines = [f"{word}: {rule.title} ({rule.severity})", "", alert.message]
    if phase == "resolve":
        lines += ["", f"Resolved at {alert.resolved_at:%Y-%m-%d %H:%M} UTC: "
                      f"{(alert.details or {}).get('resolved_because', '')}"]
    lines += ["", f"Fired at {alert.fired_at:%Y-%m-%d %H:%M} UTC. Rule: {rule.name}. Alert id: {alert.id}."]
    text = "\n".join(lines)
    icon = ":rotating_light:" if phase == "fire" else ":white_check_mark:"
    payload = {
        "text": f"{icon} *{word}*: {rule.title}\n{alert.message}",
        "supportloop_alert": {**alert_as_dict(alert), "phase": phase},
    }
    return subject, text, payload


def deliver_pending(session: Session, settings: Settings, clock: Clock, notifier: Notifier) -> int:
    """Send every fire/resolve notice not yet delivered to each configured target; a failure
    is recorded on the alert and retried at the next check. Returns how many were sent."""
    targets = _targets(settings)
    if not targets:
        return 0
    recent = clock.now() - dt.timedelta(days=1)
    candidates = session.scalars(
        select(Alert).where((Alert.state == AlertState.FIRING) | (Alert.resolved_at >= recent))
        .order_by(Alert.id)
    ).all()
    sent = 0
    for alert in candidates:
        notified = {k: dict(v) for k, v in (alert.notified or {}).items()}
        phases = ["fire"] + (["resolve"] if alert.state == AlertState.RESOLVED else [])
        errors = []
        for phase in phases:
            done = notified.setdefault(phase, {})
            pending = [t for t in targets if t not in done]
            if not pending:
                continue
            subject, text, payload = render(alert, phase)
            for target in pending:
                try:
                    if target == "email":
                        to = [a.strip() for a in settings.alert_email_to.split(",") if a.strip()]
                        notifier.send_email(to, subject, text)
                    else:
                        notifier.send_webhook(settings.alert_webhook_url.strip(), payload)
                except SupportloopError as exc:
                    errors.append(f"{phase} {target}: {exc}")
                    continue
                done[target] = clock.now().isoformat()
                sent += 1
        alert.notified = notified
        alert.notify_error = "; ".join(errors)[:4000] or None
    session.flush()
    return sent


def list_alerts(session: Session, *, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Alerts newest first, optionally only 'firing' or 'resolved' ones."""
    q = select(Alert).order_by(Alert.fired_at.desc(), Alert.id.desc()).limit(limit)
    if state:
        q = q.where(Alert.state == state)
    return [alert_as_dict(a) for a in session.scalars(q)]
