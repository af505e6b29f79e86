"""Experiments: start one on a fine-tune candidate, the live per-arm comparison with
intervals, and promote / roll back / stop (admins)."""

import pandas as pd
import streamlit as st

from core.experiments import analysis, lifecycle, registry
from core.platform.errors import SupportloopError
from core.training.finetune import jobs as finetune_jobs
from pages.resources import login_required, run_action, session, settings
from pages.widgets import show_error

user = login_required("view")


def main() -> None:
    """The page (a function, so that an empty state can return early)."""
    admin = user.can("manage_experiments")
    st.title(":material/science: Experiments")

    with session() as s:
        rows = [{"id": e.id, "name": e.name, "kind": e.kind, "mode": e.mode, "status": e.status,
                 "share": e.share, "control": registry.label(e.control),
                 "candidate": registry.label(e.candidate), "started": e.started_at,
                 "planned end": e.planned_end_at}
                for e in registry.list_experiments(s)]
        candidates = finetune_jobs.experiment_candidates(s)
    m = st.columns(3)
    m[0].metric("Running", sum(r["status"] == "running" for r in rows), border=True)
    m[1].metric("All experiments", len(rows), border=True)
    m[2].metric("Fine-tune candidates waiting", len(candidates), border=True)

    if admin and candidates:
        with st.form("start"):
            jobs = {j.id: f"job #{j.id} · {j.fine_tuned_model or j.base_model}" for j in candidates}
            job_id = st.selectbox("Start an experiment on", list(jobs), format_func=jobs.get)
            if st.form_submit_button("Start experiment", type="primary") and run_action(
                    "Start", lifecycle.start_from_finetune, settings(), job_id, actor=user):
                st.rerun()
    if not rows:
        st.info("No experiment yet: when a fine-tune succeeds, start one here against production.")
        return

    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    names = {r["id"]: f"#{r['id']} {r['name']} ({r['status']})" for r in rows}
    exp_id = st.selectbox("Experiment", list(names), format_func=names.get)
    try:
        with session() as s:
            cmp = analysis.compare_performance(s, exp_id, settings()).as_dict()
    except SupportloopError as exc:
        show_error(exc)
        return
    c = st.columns(4)
    c[0].metric("Recommendation", cmp["recommendation"], border=True, help=cmp["reason"])
    c[1].metric("Users", cmp["users"], border=True)
    c[2].metric("Days elapsed", f"{cmp['days_elapsed']:.1f}", border=True)
    c[3].metric("Days still needed", f"{cmp['days_needed']:.1f}" if cmp["days_needed"] is not None else "–",
                border=True)
    st.caption(cmp["reason"])
    left, right = st.columns(2)
    left.markdown(f"**Control** · {cmp['control_label']}")
    left.json(cmp["control"], expanded=False)
    right.markdown(f"**Candidate** · {cmp['candidate_label']}")
    right.json(cmp["candidate"], expanded=False)
    st.markdown("**Tests (with intervals)**")
    st.dataframe(pd.DataFrame(cmp["tests"]).T, width="stretch")
    if cmp["guardrail"]:
        st.error("A guardrail is crossed: roll back.", icon=":material/warning:")

    status = next(r["status"] for r in rows if r["id"] == exp_id)
    if admin and status == "running":
        reason = st.text_input("Reason (kept in the audit log)")
        a, b, d = st.columns(3)
        if a.button("Promote candidate", type="primary") and run_action(
                "Promote", lifecycle.promote, exp_id, settings(), actor=user, reason=reason):
            st.rerun()
        if b.button("Roll back") and run_action(
                "Rollback", lifecycle.rollback, exp_id, settings(), actor=user, reason=reason):
            st.rerun()
        if d.button("Stop") and run_action("Stop", lifecycle.stop, exp_id, actor=user, reason=reason):
            st.rerun()


main()
