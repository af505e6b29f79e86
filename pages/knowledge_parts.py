"""Parts of the Knowledge page (pages/knowledge.py): the chunk editor with the proposal
decisions (retitle, reject, archive, apply an update), the refresh panel (refresh now, its
outcome in plain words, the next scheduled refresh, progress) and a version's evaluation in
plain words. UI only: the rules are in core.knowledge."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.knowledge import chunks as knowledge
from core.knowledge import proposals
from core.knowledge.refresh import last_refresh
from core.ops import queue, tasks
from core.platform.actors import Actor
from core.platform.clock import SystemClock
from pages.format import when
from pages.jobs_view import live_queue, queued_note
from pages.resources import query, run_action, settings, transaction

SHOW = {"success": st.success, "warning": st.warning, "info": st.info, "error": st.error}
ICON = {"success": ":material/check_circle:", "warning": ":material/warning:", "info": ":material/info:",
        "error": ":material/error:"}
METRICS = {"hit_at_1": "Right chunk first (hit@1)", "hit_at_5": "Right chunk in the first five (hit@5)",
           "mrr": "Mean reciprocal rank", "escalation_rate": "Handed to a person (escalation)",
           "answered_accuracy": "Answered correctly, of those answered", "questions": "Evaluation questions"}


def _done(message: str) -> None:
    st.toast(message)
    st.rerun()


def chunk_editor(user: Actor, c: dict) -> None:
    """Edit one chunk; for a proposal also its title (reviewers), reject (with a reason) and why it waits."""
    admin, reviewer, cid = user.can("manage_kb"), user.can("review"), c["id"]
    proposal = c["status"] == "proposed"
    waiting = {p.id: p for p in query(proposals.list_proposals)}.get(cid) if proposal else None
    if waiting is not None and waiting.waits_because:
        st.warning(f"Left out of the refresh: {waiting.waits_because}", icon=":material/warning:")
    if waiting is not None and waiting.question:
        st.caption(f"Customer's question: {waiting.question}")
    with st.form(f"chunk-{cid}"):
        title = st.text_input("Title", c["title"], disabled=not (admin or (proposal and reviewer)))
        text = st.text_area("Text", c["text"], height=140, disabled=not admin)
        cat = st.text_input("Category", c["category"], disabled=not admin)
        b1, b2, b3 = st.columns(3)
        save = b1.form_submit_button("Save", type="primary", disabled=not (admin or (proposal and reviewer)))
        reviewed = b2.form_submit_button("Mark reviewed (clears stale)", disabled=not admin)
        archive = b3.form_submit_button("Archive", disabled=not admin or c["status"] == "archived")
    if save and admin and run_action("Save", knowledge.update_chunk, cid, actor=user, title=title, text=text,
                                     category=cat):
        _done("Saved: it is re-embedded at the next refresh")
    if save and not admin and run_action("Save title", proposals.retitle, cid, title, actor=user):
        _done("Title saved")
    if reviewed and run_action("Review", knowledge.mark_reviewed, cid, actor=user):
        _done("Marked reviewed")
    if archive and run_action("Archive", proposals.archive, cid, actor=user):
        _done(f"Chunk #{cid} archived: the next refresh builds a version without it")
    if proposal and reviewer:
        with st.form(f"reject-{cid}", border=False):
            reason = st.text_input("Why reject this proposal?", placeholder="wrong price, not our policy ...")
            if st.form_submit_button("Reject proposal", icon=":material/block:") and run_action(
                "Reject", proposals.reject_proposal, cid, actor=user, reason=reason
            ):
                _done(f"Proposal #{cid} rejected: it never joins the knowledge base")
    if c["update_of"] and admin and st.button(f"Apply this update to chunk #{c['update_of']}"):
        if run_action("Apply", knowledge.apply_update_proposal, cid, actor=user):
            _done(f"Chunk #{c['update_of']} updated")


def _next_refresh() -> str:
    with transaction() as s:
        rows = tasks.describe_tasks(s, settings(), SystemClock(), tasks.default_registry(settings()))
    row = next((t for t in rows if t["name"] == "kb_refresh"), None)
    return f"{when(row['next_due_at'], zone=True)} ({row['schedule']})" if row else "not scheduled"


def refresh_panel(user: Actor) -> None:
    """The last refresh's outcome and reason, the next scheduled one, and (admins) Refresh now."""
    if user.can("manage_kb") and st.button("Refresh now: build, evaluate, activate if not worse",
                                           type="primary", icon=":material/refresh:"):
        run = run_action("Refresh", queue.enqueue, "kb_refresh", {}, actor=user)
        if run is not None:
            st.info(f"{queued_note(run)} The outcome shows here when it is done.",
                    icon=":material/schedule:")
    live_queue(user, kinds=("kb_refresh",), key="kb-refresh")
    with transaction() as s:
        last = last_refresh(s)
        failed = next((r for r in queue.list_runs(s, limit=50) if r["job"] == "kb_refresh"), None)
    if failed is not None and failed["status"] == "failed":
        st.error(f"The last refresh failed ({when(failed['finished_at'])}): "
                 f"{(failed['error'] or '').splitlines()[0][:300]}", icon=ICON["error"])
    elif last is not None:
        SHOW[last["severity"]](f"Last refresh ({when(last['at'])}): {last['headline']}",
                               icon=ICON[last["severity"]])
    st.caption(f"Next scheduled refresh: {_next_refresh()}")


def report_view(report: dict | None) -> None:
    """A version's evaluation as a table of plain words, and the questions it missed."""
    report = report or {}
    rows = [{"Measure": label, "Value": "–" if report.get(k) is None else
             (f"{report[k]:.1%}" if isinstance(report[k], float) else f"{report[k]:,}")}
            for k, label in METRICS.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for t in report.get("gate_tests") or []:
        st.caption(f"Gate, compared with version {report.get('baseline_version_id')}: {t['losses']} of "
                   f"{t['questions']} questions worse, {t['wins']} better (exact sign test p = "
                   f"{t['p_value']:.3f}; rejected only below {t['alpha']})")
    misses = report.get("misses") or []
    if misses:
        st.dataframe(pd.DataFrame([{"Question": m["question"], "Expected": m["expected"],
                                    "Got first": m["got"],
                                    "Rank of the right chunk": m["rank"] or "not in the first five"}
                                   for m in misses]), hide_index=True, width="stretch")
