"""Experiments: start one from any candidate (KB version, chat model, embedding model), compare
the arms in plain words, promote / roll back / stop (admins), and queue the embedding fine-tune."""

import streamlit as st

from core.experiments import analysis, candidates, lifecycle, registry
from core.ops import queue
from core.platform.errors import SupportloopError
from pages import experiment_views as view
from pages.format import when
from pages.jobs_view import queued_note
from pages.resources import login_required, run_action, session, settings
from pages.widgets import show_error

user = login_required("view")


def _rows(s) -> list[dict]:  # noqa: ANN001 - a Session
    return [{"id": e.id, "name": e.name, "kind": e.kind, "mode": e.mode, "status": e.status, "share": e.share,
             "control": registry.label(e.control), "candidate": registry.label(e.candidate),
             "started": e.started_at, "planned_end": e.planned_end_at, "decision": e.decision,
             "reason": e.reason, "confirmed_by": e.confirmed_by, "decided_at": e.decided_at}
            for e in registry.list_experiments(s)]


def start_form(options: list[candidates.CandidateOption]) -> None:
    """Pick what to test (any kind), how, and start it."""
    kind = st.radio("What to test", list(view.KINDS), format_func=view.KINDS.get, horizontal=True)
    mine = [o for o in options if o.kind == kind]
    cand, job_id = None, None
    if kind == "chat_model":
        names = {o.ref: view.option_label(o) for o in mine}
        typed = st.text_input("Chat model", placeholder="a fine-tune's model id or any model name, e.g. "
                              "ft:gpt-4o-mini:acme::abc123", help="; ".join(names.values()) or None)
        cand = {"chat_model": typed.strip()} if typed.strip() else None
        job_id = next((o.finetune_job_id for o in mine if o.ref == typed.strip()), None)
    elif mine:
        pick = st.selectbox("Candidate", range(len(mine)), format_func=lambda i: view.option_label(mine[i]))
        cand, job_id = mine[pick].candidate, mine[pick].finetune_job_id
    else:
        st.caption("Nothing of this kind to test yet: a held KB refresh or a rolled-back version gives a "
                   "KB version; the embedding fine-tune below gives an embedding model.")
    c1, c2, c3 = st.columns(3)
    mode = c1.selectbox("How", list(view.MODES), format_func=view.MODES.get)
    share = c2.slider("Candidate share of users (%)", 5, 50, int(settings().experiment_share * 100), step=5)
    days = c3.number_input("Planned days", 1, settings().experiment_max_days, settings().experiment_days)
    if st.button("Start experiment", type="primary", disabled=cand is None) and run_action(
            "Start", candidates.start_candidate, settings(), kind=kind, candidate=cand, actor=user,
            finetune_job_id=job_id, mode=mode, share=share / 100, days=int(days)):
        st.rerun()


def decide(exp_id: int, status: str) -> None:
    """Promote / roll back / stop a running experiment; roll back a promoted one."""
    reason = st.text_input("Reason (kept in the audit log)")
    a, b, c = st.columns(3)
    if status == "running":
        force = st.checkbox("Promote even though the comparison does not recommend it yet")
        if a.button("Promote candidate", type="primary") and run_action(
                "Promote", lifecycle.promote, exp_id, settings(), actor=user, reason=reason, force=force):
            st.rerun()
        if c.button("Stop without a winner") and run_action(
                "Stop", lifecycle.stop, exp_id, actor=user, reason=reason):
            st.rerun()
    if b.button("Roll back" if status == "running" else "Roll back the promotion") and run_action(
            "Roll back", lifecycle.rollback, exp_id, settings(), actor=user, reason=reason):
        st.rerun()


def main() -> None:
    """The page (a function, so that an empty state can return early)."""
    admin = user.can("manage_experiments")
    st.title(":material/science: Experiments")
    with session() as s:
        rows, options = _rows(s), candidates.candidate_options(s, settings())
    m = st.columns(3)
    m[0].metric("Running", sum(r["status"] == "running" for r in rows), border=True)
    m[1].metric("All experiments", len(rows), border=True)
    m[2].metric("Candidates ready to test", len(options), border=True)
    if not rows:
        st.info("No experiment yet: start one below from a KB version, a chat model or an embedding model.")
    if admin:
        with st.expander("Start an experiment", expanded=not rows):
            start_form(options)
    if user.can("launch_finetune"):
        with st.expander("Train a new embedding model"):
            st.caption("Queues the loop's embedding fine-tune (it also runs every quarter): a dataset of "
                       "the approved and corrected answers, a new embedding model, its KB version through "
                       "the gate, then a shadow experiment. Promotion stays yours.")
            if st.button("Train a candidate embedder now", icon=":material/model_training:"):
                run = run_action("Queue", queue.enqueue, "embedding_finetune", {}, actor=user)
                if run is not None:
                    st.success(queued_note(run))
    if not rows:
        return
    st.dataframe(view.experiments_table(rows), hide_index=True, width="stretch")
    names = {r["id"]: f"#{r['id']} {r['name']} ({view.STATUSES.get(r['status'], r['status'])})" for r in rows}
    exp_id = st.selectbox("Experiment", list(names), format_func=names.get)
    try:
        with session() as s:
            cmp = analysis.compare_performance(s, exp_id, settings()).as_dict()
    except SupportloopError as exc:
        show_error(exc)
        return
    row = next(r for r in rows if r["id"] == exp_id)
    c = st.columns(4)
    if row["status"] == "running":
        advice = view.RECOMMENDATIONS.get(cmp["recommendation"], "Keep testing")
        c[0].metric("Recommendation", advice, border=True)
        why = cmp["reason"]
    else:
        c[0].metric("Decision", view.STATUSES.get(row["status"], row["status"]), border=True)
        why = f"{row['reason']} ({row['confirmed_by']}, {when(row['decided_at'])})"
    c[1].metric("Users", f"{cmp['users']:,}", border=True)
    c[2].metric("Days so far", f"{cmp['days_elapsed']:.1f}", border=True)
    c[3].metric("Days still needed", "–" if cmp["days_needed"] is None else f"{cmp['days_needed']:.1f}",
                border=True)
    st.caption(f"Why: {why}")
    if cmp["guardrail"]:
        st.error("A guardrail is crossed: roll back.", icon=":material/warning:")
    st.markdown("**Production and candidate side by side** (95% intervals in brackets)")
    st.dataframe(view.arm_table(cmp), hide_index=True, width="stretch")
    tests = view.tests_table(cmp)
    if len(tests):
        st.markdown("**Differences (candidate minus production)**")
        st.dataframe(tests, hide_index=True, width="stretch")
    if cmp.get("shadow"):
        st.markdown("**Shadow answers (never sent)**")
        st.dataframe(view.shadow_table(cmp["shadow"]), hide_index=True, width="stretch")
    if admin and row["status"] in ("running", "promoted"):
        decide(exp_id, row["status"])


main()
