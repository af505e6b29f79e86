"""Training: dataset versions with stats and approval, JSONL download, fine-tune launch with a
cost preview and the budget left, and the job monitor with events."""

import pandas as pd
import streamlit as st

from core.ops import queue
from core.platform.models import FINETUNE_PROVIDERS
from core.platform.statuses import DatasetStatus
from core.training import datasets
from core.training.finetune import jobs as finetune_jobs
from core.training.finetune import launch as finetune_launch
from pages.resources import login_required, query, run_action, session, settings

user = login_required("view")
admin = user.can("launch_finetune")
st.title(":material/model_training: Training")
top = st.container()  # filled after a build, so the figures include it
tab_data, tab_jobs = st.tabs(["Datasets", "Fine-tunes"])
with tab_data:
    build = st.button("Build a dataset now", type="primary", icon=":material/build:",
                      disabled=not user.can("build_dataset"))
    if build:
        run = run_action("Dataset build", queue.enqueue, "dataset_build", {}, actor=user)
        if run is not None:
            st.success(queue.enqueued_note(run))
versions = query(datasets.list_datasets, limit=50)
jobs = query(finetune_jobs.list_jobs, limit=50)
m = top.columns(4)
m[0].metric("Dataset versions", len(versions), border=True)
pending = sum(v.status == DatasetStatus.PENDING_APPROVAL for v in versions)
m[1].metric("Waiting for approval", pending, border=True)
m[2].metric("Fine-tunes running", sum(j.open for j in jobs), border=True)
m[3].metric("Candidates", sum(1 for j in jobs if j.fine_tuned_model), border=True)

with tab_data:
    if versions:
        st.dataframe(pd.DataFrame([{"id": v.id, "name": v.name, "kind": v.kind, "status": v.status,
                                    "train": v.train_examples, "validation": v.validation_examples,
                                    "tokens": v.tokens, "built by": v.built_by, "created": v.created_at,
                                    "decided by": v.decided_by} for v in versions]),
                     hide_index=True, width="stretch")
        names = {v.id: f"#{v.id} {v.name} ({v.status})" for v in versions}
        vid = st.selectbox("Dataset", list(names), format_func=names.get)
        v = next(x for x in versions if x.id == vid)
        c1, c2 = st.columns(2)
        c1.json({"counts": v.counts, "skipped": v.skipped, "filters": v.filters}, expanded=False)
        with c2:
            if v.status == DatasetStatus.PENDING_APPROVAL and admin:
                a, b = st.columns(2)
                if a.button("Approve dataset", type="primary") and run_action(
                        "Approve", datasets.approve_dataset, settings(), vid, user):
                    st.rerun()
                why = b.text_input("Reason to reject")
                if b.button("Reject dataset") and run_action(
                        "Reject", datasets.reject_dataset, settings(), vid, user, why):
                    st.rerun()
            try:
                with session() as s:
                    paths = datasets.dataset_paths(settings(), datasets.get_dataset(s, vid))
                for part, path in paths.items():
                    st.download_button(f"Download {part} JSONL", path.read_bytes(), file_name=path.name,
                                       mime="application/jsonl", key=f"dl-{vid}-{part}")
            except Exception as exc:  # noqa: BLE001 - a missing or altered file is shown, not raised
                st.warning(f"Files not available: {exc}")
    else:
        st.info("No dataset yet: approve answers in the review queue, then build one.")

with tab_jobs:
    approved = [v for v in versions if v.status == "approved"]
    if admin and approved:
        c1, c2 = st.columns(2)
        vid = c1.selectbox("Approved dataset", [v.id for v in approved], format_func=lambda i: f"#{i}")
        provider = c2.selectbox("Provider", FINETUNE_PROVIDERS)
        with session() as s:
            pf = finetune_launch.check_launch(s, settings(), vid, provider=provider)
        p = st.columns(4)
        p[0].metric("Estimated cost", f"${pf.estimated_cost_usd:,.2f}", border=True)
        p[1].metric("Budget left this quarter", f"${pf.budget_left_usd:,.2f}", border=True)
        p[2].metric("Examples", pf.examples, border=True)
        p[3].metric("Tokens (x epochs)", f"{pf.estimated_tokens:,}", border=True)
        for problem in pf.problems:
            st.warning(problem)
        if st.button("Launch fine-tune", type="primary", disabled=not pf.ok):
            params = {"dataset_version_id": vid, "provider": provider}
            run = run_action("Launch", queue.enqueue, "finetune", params, actor=user)
            if run is not None:
                st.success(queue.enqueued_note(run))
    if jobs:
        st.dataframe(pd.DataFrame([j.as_dict() for j in jobs]).drop(columns=["events", "result"]),
                     hide_index=True, width="stretch")
        jid = st.selectbox("Job", [j.id for j in jobs], format_func=lambda i: f"#{i}")
        j = next(x for x in jobs if x.id == jid)
        if j.events:
            st.dataframe(pd.DataFrame(j.events), hide_index=True, width="stretch")
        else:
            st.caption("No events for this job yet.")
    else:
        st.caption("No fine-tune jobs yet.")
