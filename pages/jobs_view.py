"""Job runs as the pages show them: queued and running work with a progress bar and a cancel
button (refreshed every 2 seconds), and finished runs with their summaries in plain words.
UI only: the queue is ``core.ops.queue``."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.ops import queue
from core.platform.actors import Actor
from core.platform.statuses import JobRunStatus
from pages.format import plain, value, when
from pages.resources import refresh_data, run_action, transaction

JOB_NAMES = {"finetune": "Fine-tune", "gaps_refresh": "Knowledge gap clustering", "kb_refresh": "KB refresh",
             "embedding_finetune": "Embedding fine-tune",
             "metrics": "Metrics and alerts", "enrich_backfill": "Enrichment back-fill",
             "demo_load": "Demo load", "experiment_analysis": "Experiment analysis"}


def job_name(job: str) -> str:
    return JOB_NAMES.get(job, plain(job))


def queued_note(run: Any) -> str:
    """What a page says after it queued ``run`` (a JobRun), in plain words."""
    return (f"{job_name(run.job)} queued as job run #{run.id}: the job runner starts it shortly. Follow "
            "its progress (and cancel it) here or on the Alerts and jobs page.")


def summary_text(summary: dict[str, Any] | None, limit: int = 240) -> str:
    """A job's summary as one short line of plain words (never JSON): its plain figures, without
    nested tables, checksums or file paths (the run details show those as a table)."""
    flat = {k: v for k, v in (summary or {}).items()
            if not isinstance(v, dict | list) and v not in (None, "")
            and not str(k).endswith(("sha256", "_file", "path", "_at"))}
    text = value(flat or summary or {})
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_text(run: dict[str, Any]) -> str:
    if run["status"] == JobRunStatus.RUNNING and run.get("cancel_requested"):
        return "Running (cancel asked)"
    return plain(run["status"])


def open_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Queued and running runs: what, how far, who asked and when."""
    return pd.DataFrame([{
        "Run": r["id"], "Job": job_name(r["job"]), "Status": status_text(r),
        "Progress": (r["percent"] or 0.0) / 100,
        "Done": f"{r['progress_done']:,} of {r['progress_total']:,}" if r["progress_total"] else "–",
        "Now": r["progress_message"] or "", "Asked by": r["requested_by"] or "–",
        "Queued at": when(r["queued_at"]),
    } for r in runs])


def finished_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Finished (or open) runs with their outcome in plain words."""
    return pd.DataFrame([{
        "Run": r["id"], "Job": job_name(r["job"]), "How": plain(r["trigger"]), "Status": plain(r["status"]),
        "Started": when(r["started_at"]),
        "Took": f"{r['seconds']:,.0f} s" if r.get("seconds") is not None else "–",
        "Result": (r["error"] or "").splitlines()[0][:200] if r.get("error") else summary_text(r["summary"]),
    } for r in runs])


PROGRESS = st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent")


def _fragment_run() -> bool:
    """Whether this script run is a fragment's own (its 2-second refresh), not the whole page."""
    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)


def follow(key: str, run_id: int) -> None:
    """The view ``key`` (a ``live_queue`` of every kind) reruns the page when run ``run_id``, queued
    from this page, has ended, even when it ran between two readings and was never seen open."""
    st.session_state[f"{key}-follow"] = run_id


@st.fragment(run_every="2s")
def live_queue(user: Actor, kinds: tuple[str, ...] = (), key: str = "queue", empty: str = "") -> None:
    """Queued and running runs (only ``kinds`` when given) with progress and cancel."""
    with st.empty().container():  # one placeholder: nothing of an earlier reading stays behind
        _queue(user, kinds, key, empty)


def _queue(user: Actor, kinds: tuple[str, ...], key: str, empty: str) -> None:
    with transaction() as s:
        runs = [r for r in queue.open_runs(s) if not kinds or r["job"] in kinds]
        finished = [] if not kinds else [r for r in queue.list_runs(s, limit=20) if r["job"] in kinds]
    done = [r for r in finished if r["status"] not in queue.OPEN_STATUSES]
    latest = done[0]["id"] if done else None  # the newest finished run this view follows
    st.session_state.setdefault(f"{key}-last-finished", latest)
    if not runs:
        if empty:
            st.caption(empty)
        if finished and finished[0]["status"] not in queue.OPEN_STATUSES:
            last = finished[0]
            st.caption(f"Last {job_name(last['job']).lower()}: run #{last['id']}, "
                       f"{plain(last['status']).lower()} at {when(last['finished_at'])}. "
                       f"{summary_text(last['summary'] or {}, 160)}")
        # Work ended since this view last looked (also a run queued and finished between two
        # readings, never seen open): the fragment's own refresh reruns the whole page to show
        # its results. A whole-page run leaves that to it: stopping a page run here would lose
        # the click that started it (a button further down the page).
        ended = (st.session_state.get(f"{key}-was-busy") or latest != st.session_state[f"{key}-last-finished"]
                 or st.session_state.get(f"{key}-follow") is not None)
        if ended and _fragment_run():
            st.session_state[f"{key}-was-busy"] = False
            st.session_state[f"{key}-follow"] = None
            st.session_state[f"{key}-last-finished"] = latest
            refresh_data()
            st.rerun(scope="app")
        return
    st.session_state[f"{key}-was-busy"] = True
    st.dataframe(open_table(runs), hide_index=True, width="stretch", column_config={"Progress": PROGRESS})
    mine = [r for r in runs if user.can(queue.KIND_PERMISSIONS.get(r["job"], "run_jobs"))]
    if mine:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        labels = {r["id"]: f"#{r['id']} {job_name(r['job'])}" for r in mine}
        rid = c1.selectbox("Job run", list(labels), key=f"{key}-run", format_func=labels.get)
        if c2.button("Cancel", icon=":material/cancel:", key=f"{key}-cancel"):
            if run_action("Cancel", queue.cancel, rid, actor=user):
                st.toast(f"Run #{rid}: cancel asked; it stops at its next step")
