"""Alerts and jobs: the job queue (queued and running job runs with their progress; cancel),
firing alerts and their history, alert rules (edit), scheduled jobs with their runs (queue one
now) and the job runner's heartbeat. The queue refreshes every 2 seconds, the rest every 5 minutes."""

import pandas as pd
import streamlit as st

from core.ops import alerts, jobruns, queue, tasks
from core.platform.clock import SystemClock
from core.platform.models import SEVERITIES
from pages.resources import login_required, query, run_action, settings, transaction

user = login_required("view")
can_edit = user.can("edit_alerts")
clock = SystemClock()
st.title(":material/notifications_active: Alerts and jobs")


@st.fragment(run_every="2s")
def job_queue() -> None:
    with transaction() as s:
        runs = queue.open_runs(s)
    st.subheader("Job queue")
    if not runs:
        st.caption("Nothing queued or running. Long work (KB refresh, dataset build, fine-tune, demo "
                   "load...) queued from any page shows here with its progress.")
        return
    st.dataframe(pd.DataFrame(queue.table_rows(runs)), hide_index=True, width="stretch", column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)})
    if user.can("run_jobs") or user.can("manage_kb"):
        c1, c2 = st.columns([2, 1])
        rid = c1.selectbox("Job run", [r["id"] for r in runs], format_func=lambda i: f"#{i}")
        if c2.button("Cancel", icon=":material/cancel:"):
            if run_action("Cancel", queue.cancel, rid, actor=user):
                st.toast(f"Run #{rid}: cancel requested")


@st.fragment(run_every="5m")
def live() -> None:
    firing = query(alerts.list_alerts, state="firing", limit=100)
    with transaction() as s:
        runners = jobruns.heartbeats(s, clock)
        health = tasks.job_health(s, settings(), clock)
        schedule = tasks.describe_tasks(s, settings(), clock, tasks.default_registry(settings()))
    alive = [r for r in runners if r["alive"]]
    m = st.columns(4)
    m[0].metric("Alerts firing", len(firing), border=True)
    m[1].metric("Job runner", "running" if alive else "not running", border=True,
                help=f"last seen {runners[0]['last_seen_at'][:19]} UTC" if runners else "never seen")
    for col, key in ((m[2], "failing"), (m[3], "overdue")):
        col.metric(f"Jobs {key}", len(health[key]), border=True, help=", ".join(health[key]) or None)
    if not alive:
        st.warning("No job runner is alive: metrics, alerts and the weekly refresh are not running. "
                   "Start it with `python -m jobs` (or `supportloop serve`).", icon=":material/warning:")
    for a in firing:
        st.error(f"**{a['title']}** · {a['message']} · since {a['fired_at'][:16]} UTC",
                 icon=":material/notification_important:")

    tab_alerts, tab_rules, tab_jobs = st.tabs(["Alert history", "Rules", "Jobs and runner"])
    with tab_alerts:
        history = query(alerts.list_alerts, limit=200)
        if history:
            st.dataframe(pd.DataFrame(history).drop(columns=["notified"]), hide_index=True, width="stretch")
        else:
            st.caption("No alert has fired yet.")
    with tab_rules:
        rules = query(alerts.list_rules)
        st.dataframe(pd.DataFrame(rules), hide_index=True, width="stretch")
        if can_edit and rules:
            _edit_rule(rules)
    with tab_jobs:
        st.dataframe(pd.DataFrame(schedule), hide_index=True, width="stretch")
        if user.can("run_jobs") and schedule:
            _run_now([t["name"] for t in schedule])
        st.markdown("**Recent job runs**")
        runs = query(jobruns.recent_runs, limit=100)
        if runs:
            st.dataframe(pd.DataFrame(runs), hide_index=True, width="stretch")
        st.markdown("**Runner heartbeat**")
        if runners:
            st.dataframe(pd.DataFrame(runners), hide_index=True, width="stretch")
        else:
            st.caption("No runner has ever started.")


def _edit_rule(rules: list[dict]) -> None:
    names = {r["name"]: r for r in rules}
    name = st.selectbox("Edit rule", list(names), format_func=lambda n: f"{n} · {names[n]['title']}")
    r = names[name]
    with st.form(f"rule-{name}"):
        c = st.columns(5)
        threshold = c[0].number_input("Threshold", value=r["threshold"], format="%.4f")
        window = c[1].number_input("Window (min)", 1, r["max_window_minutes"], r["window_minutes"])
        cooldown = c[2].number_input("Cool-down (min)", 0, value=r["cooldown_minutes"])
        severity = c[3].selectbox("Severity", SEVERITIES, index=SEVERITIES.index(r["severity"]))
        enabled = c[4].checkbox("Enabled", r["enabled"])
        if st.form_submit_button("Save rule", type="primary"):
            if run_action("Save rule", alerts.update_rule, name, clock, actor=user, threshold=threshold,
                          window_minutes=int(window), cooldown_minutes=int(cooldown), severity=severity,
                          enabled=enabled):
                st.toast(f"Rule {name} saved")
                st.rerun()


def _run_now(names: list[str]) -> None:
    c1, c2 = st.columns([2, 1])
    name = c1.selectbox("Run a job now", names)
    if c2.button("Queue now", icon=":material/play_arrow:"):
        run = run_action("Queue", queue.enqueue, name, {}, actor=user, clock=clock, task_names=set(names))
        if run is not None:
            st.success(queue.enqueued_note(run))


job_queue()
live()
