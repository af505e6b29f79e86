"""Alerts and jobs: firing alerts and their history, alert rules (edit), scheduled jobs with
their runs (run one now) and the job runner's heartbeat. Refreshes itself every 5 minutes."""

import pandas as pd
import streamlit as st

from core.ops import alerts, jobruns, tasks
from core.platform.clock import SystemClock
from core.platform.models import SEVERITIES
from pages.resources import database, login_required, query, refresh_data, run_action, settings, transaction

user = login_required("view")
can_edit = user.can("edit_alerts")
clock = SystemClock()
st.title(":material/notifications_active: Alerts and jobs")


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
    if c2.button("Run now", icon=":material/play_arrow:"):
        ctx = tasks.TaskContext(session_factory=database()[1], settings=settings(), clock=clock)
        task = tasks.get_task(tasks.default_registry(settings()), name)
        with st.status(f"Running {name}...") as box:
            result = tasks.run_now(ctx, task, f"dashboard:{user.name}", actor=user)
            box.update(label=f"{name}: {result.status}", state="error" if result.error else "complete")
            if result.error:
                st.error(result.error)
            else:
                box.json(result.summary)
        refresh_data()


live()
