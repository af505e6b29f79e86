"""Training: build a dataset (a job: progress and cancel here), read its statistics, approve or
reject it, export its checked JSONL files (a job) and download them; launch a fine-tune with a
cost preview and the budget left (a job), follow it step by step and cancel it."""

import streamlit as st

from core.ops import queue
from core.platform.errors import SupportloopError
from core.platform.models import FINETUNE_PROVIDERS
from core.platform.statuses import DatasetStatus
from core.training import datasets
from core.training.finetune import jobs as finetune_jobs
from core.training.finetune import launch as finetune_launch
from pages.format import plain
from pages.jobs_view import live_queue
from pages.resources import login_required, query, refresh_data, run_action, session, settings
from pages.training_parts import PROVIDERS, dataset_stats, datasets_table, job_progress, jobs_table

user = login_required("view")
builder, launcher = user.can("build_dataset"), user.can("launch_finetune")
st.title(":material/model_training: Training")
versions = query(datasets.list_datasets, limit=50)
jobs = query(finetune_jobs.list_jobs, limit=50)
waiting = [v for v in versions if v.status == DatasetStatus.PENDING_APPROVAL]
m = st.columns(4)
m[0].metric("Dataset versions", len(versions), border=True, help="The 50 newest are listed below.")
m[1].metric("Waiting for approval", len(waiting), border=True,
            help=", ".join(f"#{v.id} {v.name}" for v in waiting) or "none")
m[2].metric("Fine-tunes running", sum(j.open for j in jobs), border=True)
m[3].metric("Models ready to try", sum(1 for j in jobs if j.fine_tuned_model), border=True,
            help="Fine-tuned models an experiment can test against production.")


def queued(label: str, kind: str, params: dict) -> None:
    run = run_action(label, queue.enqueue, kind, params, actor=user)
    if run is not None:
        st.success(f"{label} queued as job run #{run.id}: the job runner starts it shortly; "
                   "its progress shows here.")


tab_data, tab_jobs = st.tabs(["Datasets", "Fine-tunes"])
with tab_data:
    if st.button("Build a dataset now", type="primary", icon=":material/build:", disabled=not builder,
                 help="From the approved and edited answers; the new dataset then waits for approval."):
        queued("Dataset build", "dataset_build", {})
    live_queue(user, ("dataset_build", "dataset_export"), key="datasets")
    if not versions:
        st.info("No dataset yet: approve answers in the review queue, then build one.")
    else:
        st.dataframe(datasets_table(versions), hide_index=True, width="stretch")
        names = {v.id: f"#{v.id} {v.name} · {plain(v.status)}" for v in versions}
        first = waiting[0].id if waiting else versions[0].id
        vid = st.selectbox("Dataset", list(names), format_func=names.get, index=list(names).index(first))
        v = next(x for x in versions if x.id == vid)
        dataset_stats(v)
        if v.status == DatasetStatus.PENDING_APPROVAL and builder:
            a, b, c = st.columns([1, 2, 1], vertical_alignment="bottom")
            if a.button("Approve dataset", type="primary", icon=":material/check:") and run_action(
                    "Approve", datasets.approve_dataset, settings(), vid, user):
                st.rerun()
            why = b.text_input("Reason to reject")
            if c.button("Reject dataset", icon=":material/close:") and run_action(
                    "Reject", datasets.reject_dataset, settings(), vid, user, why):
                st.rerun()
        elif v.status == DatasetStatus.APPROVED:
            files = datasets.exported_files(settings(), vid)
            if st.button("Export (checks every line again)", icon=":material/ios_share:",
                         disabled=not builder):
                queued("Dataset export", "dataset_export", {"dataset_version_id": vid})
            for part, path in files.items():
                st.download_button(f"Download {part} JSONL ({path.stat().st_size:,} bytes)",
                                   path.read_bytes(), file_name=path.name, mime="application/jsonl",
                                   key=f"dl-{vid}-{part}")
            if not files:
                st.caption("Not exported yet: an export checks every line for personal data again, "
                           "then offers the files here.")

with tab_jobs:
    approved = [v for v in versions if v.status == DatasetStatus.APPROVED]
    if launcher and approved:
        c1, c2 = st.columns(2)
        vid = c1.selectbox("Approved dataset", [v.id for v in approved],
                           format_func=lambda i: next(f"#{i} {v.name}" for v in approved if v.id == i))
        provider = c2.selectbox("Provider", FINETUNE_PROVIDERS, format_func=lambda p: PROVIDERS.get(p, p))
        try:
            with session() as s:
                pf = finetune_launch.check_launch(s, settings(), vid, provider=provider)
        except SupportloopError as exc:
            st.error(str(exc))
            pf = None
        if pf is not None:
            p = st.columns(4)
            p[0].metric("Estimated cost", f"${pf.estimated_cost_usd:,.2f}", border=True)
            p[1].metric("Budget left this quarter", f"${pf.budget_left_usd:,.2f}", border=True)
            p[2].metric("Examples", f"{pf.examples:,}", border=True)
            p[3].metric("Tokens (all epochs)", f"{pf.estimated_tokens:,}", border=True)
            for problem in pf.problems:
                st.warning(problem)
            if st.button("Launch fine-tune", type="primary", disabled=not pf.ok,
                         icon=":material/rocket_launch:"):
                queued("Fine-tune launch", "finetune", {"dataset_version_id": vid, "provider": provider})
    elif launcher:
        st.caption("Approve a dataset first: only an approved dataset can be used for a fine-tune.")
    live_queue(user, ("finetune",), key="finetunes")
    if not jobs:
        st.caption("No fine-tune jobs yet.")
    else:
        st.dataframe(jobs_table(jobs), hide_index=True, width="stretch")
        labels = {j.id: f"#{j.id} · dataset #{j.dataset_version_id} · {plain(j.status)}" for j in jobs}
        jid = st.selectbox("Fine-tune job", list(labels), format_func=labels.get)
        j = next(x for x in jobs if x.id == jid)
        job_progress(j)
        if j.open and launcher:
            if st.button("Cancel this fine-tune", icon=":material/cancel:") and run_action(
                    "Cancel", finetune_launch.cancel, settings(), jid, user):
                st.toast(f"Fine-tune #{jid} cancelled")
                st.rerun()
        if st.button("Refresh", icon=":material/refresh:", help="Read the jobs again now"):
            refresh_data()
            st.rerun()
