"""Alerts against a real local SMTP server (tests.smtp) and a local webhook receiver."""

import datetime as dt

import pytest
from sqlalchemy import select

from core.ops import alerts, tasks
from core.ops.tasks import TaskContext
from core.platform import events
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, PermissionDenied, ValidationError
from core.platform.models import Alert, JobRun
from core.platform.notify import Notifier
from core.platform.statuses import AlertState, JobRunStatus, Severity
from tests.factories import ADMIN, REVIEWER, make_conversation
from tests.factories.servers import WebhookReceiver

T0 = dt.datetime(2026, 3, 18, 10, 0)


@pytest.fixture
def mail(smtp, settings):
    inbox, port = smtp
    with WebhookReceiver() as hook:
        s = settings.model_copy(update={
            "smtp_host": "127.0.0.1", "smtp_port": port, "notify_retries": 1,
            "alert_email_to": "ops@example.com, owner@example.com",
            "alert_webhook_url": hook.url,
        })
        yield s, inbox, hook


def subjects(inbox) -> list[str]:
    return [str(msg["Subject"]) for _, msg in inbox.messages]


def posts(hook) -> list[dict]:
    return [body for _, body in hook.requests]


def notifier(settings):
    return Notifier(settings, sleep=lambda _s: None)


def only_rules(session, clock, *names):
    """Seed the defaults and leave only ``names`` enabled."""
    alerts.seed_default_rules(session, clock)
    for rule in alerts.list_rules(session):
        if rule["name"] not in names:
            alerts.update_rule(session, rule["name"], clock, actor=ADMIN, enabled=False)
    session.commit()


def test_one_breach_one_email_one_webhook_within_six_minutes_then_one_resolve(db, mail):
    settings, box, hook = mail
    clock = FixedClock(T0)
    with db.session() as s:
        only_rules(s, clock, "containment_low")
    metrics_task = tasks.get_task(tasks.default_registry(settings), "metrics")
    ctx = TaskContext(db.factory, settings, clock, notifier_factory=lambda: notifier(settings),
                      tasks=[metrics_task])
    breach_at = T0 + dt.timedelta(minutes=7)
    fixed_at = T0 + dt.timedelta(minutes=60)
    first_email_at = None
    end = T0 + dt.timedelta(minutes=120)
    while clock.now() < end:
        now = clock.now()
        if now == breach_at:  # 25 closed conversations, 10 handed to a human: 60 % contained
            with db.session() as s:
                for i in range(25):
                    make_conversation(s, at=now, csat=5, escalated=i < 10, updated_at=now)
                s.commit()
        if now == fixed_at:  # 100 more contained ones: 92 % over the last hour
            with db.session() as s:
                for _ in range(100):
                    make_conversation(s, at=now, csat=5, updated_at=now)
                s.commit()
        tasks.run_due(ctx, [metrics_task], "sim-runner")  # the runner ticks every minute
        if box.messages and first_email_at is None:
            first_email_at = clock.now()
        clock.advance(seconds=60)

    assert first_email_at is not None and first_email_at - breach_at <= dt.timedelta(minutes=6)
    assert subjects(box) == ["[supportloop] FIRING: Containment below 80 %",
                        "[supportloop] RESOLVED: Containment below 80 %"]
    assert box.messages[0][0] == ["ops@example.com", "owner@example.com"]
    assert "Containment 60.0 % (alert when below 80.0 %)" in box.messages[0][1].get_content()
    assert [p["supportloop_alert"]["phase"] for p in posts(hook)] == ["fire", "resolve"]
    assert posts(hook)[0]["text"].startswith(":rotating_light: *FIRING*")
    assert posts(hook)[0]["supportloop_alert"]["value"] == 0.6
    with db.session() as s:
        (alert,) = s.scalars(select(Alert)).all()
        assert alert.state == AlertState.RESOLVED
        assert alert.fired_at - breach_at <= dt.timedelta(minutes=6)
        assert fixed_at <= alert.resolved_at <= fixed_at + dt.timedelta(minutes=6)
        assert set(alert.notified["fire"]) == {"email", "webhook"}
        assert s.query(JobRun).filter_by(job="metrics", status=JobRunStatus.SUCCEEDED).count() == 24


def test_window_grows_until_it_holds_the_minimum_volume(session, settings):
    clock = FixedClock(T0)
    alerts.seed_default_rules(session, clock)
    for _ in range(8):  # the last hour: 8 closed, all contained
        make_conversation(session, at=T0 - dt.timedelta(minutes=20))
    for _ in range(15):  # three hours ago: 15 closed, all escalated
        make_conversation(session, at=T0 - dt.timedelta(hours=3), escalated=True)
    rule = next(r for r in session.scalars(select(alerts.AlertRule)) if r.name == "containment_low")
    ev = alerts.evaluate_rule(session, rule, settings, clock)
    assert ev.window_minutes == 240 and ev.volume == 23
    assert ev.breached and round(ev.value, 3) == round(8 / 23, 3)
    # with fewer than 20 closed conversations in a whole day nothing is decided
    alerts.update_rule(session, "containment_low", clock, actor=ADMIN, min_volume=50)
    ev = alerts.evaluate_rule(session, rule, settings, clock)
    assert ev.breached is None and ev.window_minutes == 1440 and "not enough data" in ev.text


def test_notifications_are_off_when_not_configured(session, settings):
    clock = FixedClock(T0)
    for i in range(25):
        make_conversation(session, at=T0, escalated=i < 10, csat=5)
    result = alerts.check_alerts(session, settings, clock, notifier(settings))
    assert "containment_low" in result["fired"] and result["sent"] == 0
    assert alerts.list_alerts(session, state="firing")[0]["notified"] == {}


def test_a_failed_webhook_is_retried_at_the_next_check_and_mail_is_not_resent(session, mail):
    settings, box, hook = mail
    clock = FixedClock(T0)
    only_rules(session, clock, "kb_refresh_failed")
    events.record(session, "kb.refresh_failed", "Refresh failed: index write error",
                  severity=Severity.ERROR, clock=clock)
    hook.statuses = [500]
    first = alerts.check_alerts(session, settings, clock, notifier(settings))
    assert first["fired"] == ["kb_refresh_failed"] and first["sent"] == 1
    alert = alerts.list_alerts(session)[0]
    assert "webhook" in alert["notify_error"] and list(alert["notified"]["fire"]) == ["email"]
    assert "latest: Refresh failed: index write error" in alert["message"]
    clock.advance(minutes=5)
    second = alerts.check_alerts(session, settings, clock, notifier(settings))
    assert second["fired"] == [] and second["sent"] == 1
    assert len(box.messages) == 1 and len(hook.requests) == 2  # the refused post, then the retry
    assert alerts.list_alerts(session)[0]["notify_error"] is None
    # the event leaves the one-day window: the alert resolves, once
    clock.advance(days=1)
    third = alerts.check_alerts(session, settings, clock, notifier(settings))
    assert third["resolved"] == ["kb_refresh_failed"] and third["sent"] == 2
    clock.advance(minutes=5)
    assert alerts.check_alerts(session, settings, clock, notifier(settings))["sent"] == 0
    assert [s.split(":")[0] for s in subjects(box)] == ["[supportloop] FIRING", "[supportloop] RESOLVED"]


def test_cooldown_keeps_a_flapping_rule_quiet(session, settings):
    clock = FixedClock(T0)
    only_rules(session, clock, "jobs_failing")
    n = notifier(settings)
    assert alerts.check_alerts(session, settings, clock, n, job_health={"failing": ["kb_refresh"]})["fired"]
    clock.advance(minutes=5)
    assert alerts.check_alerts(session, settings, clock, n, job_health={"failing": []})["resolved"]
    alerts.update_rule(session, "jobs_failing", clock, actor=ADMIN, cooldown_minutes=30)
    clock.advance(minutes=5)
    again = alerts.check_alerts(session, settings, clock, n, job_health={"failing": ["kb_refresh"]})
    assert again["fired"] == [] and again["cooling_down"] == ["jobs_failing"]
    clock.advance(minutes=30)
    assert alerts.check_alerts(session, settings, clock, n, job_health={"failing": ["x"]})["fired"]
    assert len(alerts.list_alerts(session)) == 2


def test_cost_rule_uses_the_budget_setting_and_channel_rules(session, settings):
    clock = FixedClock(T0)
    only_rules(session, clock, "daily_cost_high")
    for _ in range(3):
        make_conversation(session, at=T0 - dt.timedelta(hours=2), cost=10.0, channel="sms")
    cheap = settings.model_copy(update={"daily_cost_budget_usd": 100.0})
    assert alerts.check_alerts(session, cheap, clock, notifier(cheap))["fired"] == []
    tight = settings.model_copy(update={"daily_cost_budget_usd": 25.0})
    result = alerts.check_alerts(session, tight, clock, notifier(tight))
    assert result["fired"] == ["daily_cost_high"]
    assert "$30.00" in alerts.list_alerts(session)[0]["message"]
    alerts.create_rule(session, clock, actor=ADMIN, name="sms_volume", title="SMS quiet",
                       metric="conversations", comparison="<", threshold=1, channel="email",
                       window_minutes=60, max_window_minutes=60)
    assert "sms_volume" in alerts.check_alerts(session, tight, clock, notifier(tight))["fired"]


def test_rule_changes_are_validated(session):
    clock = FixedClock(T0)
    alerts.seed_default_rules(session, clock)
    assert alerts.seed_default_rules(session, clock) == 0  # idempotent
    with pytest.raises(NotFound):
        alerts.update_rule(session, "nope", clock, actor=ADMIN, threshold=1)
    with pytest.raises(ValidationError, match="Comparison"):
        alerts.update_rule(session, "csat_low", clock, actor=ADMIN, comparison="~")
    with pytest.raises(ValidationError, match="Cannot change"):
        alerts.update_rule(session, "csat_low", clock, actor=ADMIN, metric="x")
    with pytest.raises(ValidationError, match="channel"):
        alerts.update_rule(session, "csat_low", clock, actor=ADMIN, channel="fax")
    with pytest.raises(ValidationError, match="Unknown metric"):
        alerts.create_rule(session, clock, actor=ADMIN, name="x", title="x", metric="happiness",
                           comparison="<", threshold=1)
    assert alerts.update_rule(session, "csat_low", clock, actor=ADMIN, threshold=3.5)["threshold"] == 3.5


def test_editing_rules_needs_the_edit_alerts_right(session):
    clock = FixedClock(T0)
    alerts.seed_default_rules(session, clock)
    with pytest.raises(PermissionDenied, match="edit_alerts"):
        alerts.update_rule(session, "csat_low", clock, actor=REVIEWER, threshold=1.0)
    with pytest.raises(PermissionDenied, match="edit_alerts"):
        alerts.create_rule(session, clock, actor=REVIEWER, name="x", title="x", metric="conversations",
                           comparison="<", threshold=1)
    assert next(r for r in alerts.list_rules(session) if r["name"] == "csat_low")["threshold"] == 4.0


def test_try_a_rule_then_it_fires_and_deleting_it_removes_its_history(session, settings):
    clock = FixedClock(T0)
    only_rules(session, clock)
    for _ in range(3):
        make_conversation(session, at=T0 - dt.timedelta(minutes=20), channel="sms")
    alerts.create_rule(session, clock, actor=ADMIN, name="busy_sms", title="SMS busier than 2 an hour",
                       metric="conversations", comparison=">", threshold=2, channel="sms",
                       window_minutes=60, max_window_minutes=60)
    tried = alerts.try_rule(session, "busy_sms", settings, clock)
    assert tried["verdict"] == "fires" and tried["value"] == 3
    assert tried["text"] == ("Conversations 3 (alert when above 2) over the last 1 h on sms, 3 conversations")
    assert alerts.list_alerts(session) == []  # trying changes nothing
    assert alerts.check_alerts(session, settings, clock, notifier(settings))["fired"] == ["busy_sms"]
    assert alerts.condition_text(alerts.list_rules(session)[-1]) == "above 2"
    with pytest.raises(PermissionDenied):
        alerts.delete_rule(session, "busy_sms", clock, actor=REVIEWER)
    gone = alerts.delete_rule(session, "busy_sms", clock, actor=ADMIN)
    assert gone["name"] == "busy_sms" and alerts.list_alerts(session) == []
    assert "busy_sms" not in {r["name"] for r in alerts.list_rules(session)}
    with pytest.raises(NotFound):
        alerts.delete_rule(session, "busy_sms", clock, actor=ADMIN)
    with pytest.raises(NotFound):
        alerts.try_rule(session, "busy_sms", settings, clock)
