"""Alerts and jobs: the job queue (queued and running job runs with their progress; cancel),
firing alerts and their history, alert rules (try, edit, add, delete), scheduled jobs with
their next run and recent runs (queue one now) and the job runner's heartbeat. The queue
refreshes every 2 seconds, the rest every 5 minutes."""

import pandas as pd
import streamlit as st

from core.ops import alerts, jobruns, queue, tasks
from core.platform.clock import SystemClock
from pages.alert_rules import rules_tab
from pages.format import plain, show_dict, when
from pages.jobs_view import finished_table, follow, job_name, live_queue, summary_text
from pages.resources import login_required, query, run_action, settings, transaction

user = login_required("view")
clock = SystemClock()
SHOW = {"critical": st.error, "error": st.error, "warning": st.warning, "info": st.info}
st.title(":material/notifications_active: Alerts and jobs")
st.subheader("Job queue")
live_queue(user, key="all", empty="Nothing queued or running. Long work (KB refresh, dataset build, "
                               "fine-tune, demo load...) queued from any page shows here with its progress.")


def _history(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Alert": a["title"], "Severity": plain(a["severity"]), "State": plain(a["state"]),
        "Fired": when(a["fired_at"]), "Resolved": when(a["resolved_at"]), "What was seen": a["message"],
        "Why it resolved": a["resolved_because"] or "–",
        "Notice failed": a["notify_error"] or "–",
    } for a in rows])


def _schedule(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Job": job_name(t["name"]), "What it does": t["description"], "Runs": t["schedule"],
        "Last run": when(t["last_started_at"]), "Last result": plain(t["last_status"]),
        "Next run": when(t["next_due_at"]),
    } for t in rows])


def _runners(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Runner": r["runner"], "Host": r["host"], "Started": when(r["started_at"]),
        "Last seen": when(r["last_seen_at"]),
        "Working on": job_name(r["current_job"]) if r["current_job"] else "–",
        "State": "running" if r["alive"] else "stopped" if r["stopped_at"] else "not seen lately",
    } for r in rows])


@st.fragment(run_every="5m")
def live() -> None:
    firing = query(alerts.list_alerts, state="firing", limit=100)
    with transaction() as s:
        runners = jobruns.heartbeats(s, clock)
        health = tasks.job_health(s, settings(), clock)
        schedule = tasks.describe_tasks(s, settings(), clock, tasks.default_registry(settings()))
    alive = [r for r in runners if r["alive"]]
    m = st.columns(4)
    m[0].metric("Alerts firing now", len(firing), border=True)
    m[1].metric("Job runner", "running" if alive else "not running", border=True,
                help=f"last seen {when(runners[0]['last_seen_at'], zone=True)}" if runners else "never seen")
    for col, key in ((m[2], "failing"), (m[3], "overdue")):
        col.metric(f"Scheduled jobs {key}", len(health[key]), border=True,
                   help=", ".join(job_name(n) for n in health[key]) or None)
    if not alive:
        st.warning("No job runner is alive: metrics, alerts and the weekly refresh are not running. "
                   "Start it with `python -m jobs` (or `supportloop serve`).", icon=":material/warning:")
    for a in firing:
        SHOW.get(a["severity"], st.warning)(f"**{a['title']}** · {a['message']} · since "
                                            f"{when(a['fired_at'], zone=True)}")

    tab_alerts, tab_rules, tab_jobs = st.tabs(["Alert history", "Rules", "Jobs and runner"])
    with tab_alerts:
        history = query(alerts.list_alerts, limit=200)
        if history:
            st.dataframe(_history(history), hide_index=True, width="stretch")
        else:
            st.caption("No alert has fired yet.")
    with tab_rules:
        rules_tab(user)
    with tab_jobs:
        st.dataframe(_schedule(schedule), hide_index=True, width="stretch")
        if user.can("run_jobs") and schedule:
            _run_now([t["name"] for t in schedule])
        st.markdown("**Recent job runs**")
        runs = query(jobruns.recent_runs, limit=100)
        if runs:
            st.dataframe(finished_table(runs), hide_index=True, width="stretch")
            pick = st.selectbox("Run details", [r["id"] for r in runs], format_func=lambda i: next(
                f"#{i} {job_name(r['job'])} · {when(r['started_at'])}" for r in runs if r["id"] == i))
            run = next(r for r in runs if r["id"] == pick)
            st.caption(f"{plain(run['status'])}. {run['error'] or summary_text(run['summary'], 300)}")
            show_dict(run["summary"], empty="This run left no summary.")
        st.markdown("**Runner heartbeat**")
        if runners:
            st.dataframe(_runners(runners), hide_index=True, width="stretch")
        else:
            st.caption("No runner has ever started.")


def _run_now(names: list[str]) -> None:
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    name = c1.selectbox("Run a job now", names, format_func=job_name)
    if c2.button("Queue now", icon=":material/play_arrow:"):
        run = run_action("Queue", queue.enqueue, name, {}, actor=user, clock=clock, task_names=set(names))
        if run is not None:
            follow("all", run.id)
            st.success(f"{job_name(name)} queued as job run #{run.id}; the queue above shows its progress.")


live()
