"""Tables of the Training page in plain words: dataset versions and their statistics, fine-tune
jobs, their progress through the provider's steps, events and results. UI only."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.platform.statuses import FinetuneStatus
from core.training.datasets import DatasetInfo
from core.training.finetune.jobs import JobInfo
from pages.format import dict_rows, plain, when

STEPS = (FinetuneStatus.PENDING, FinetuneStatus.VALIDATING_FILES, FinetuneStatus.QUEUED,
         FinetuneStatus.RUNNING, FinetuneStatus.SUCCEEDED)
PROVIDERS = {"openai": "OpenAI (chat model)", "local": "Local (embedding model, on this machine)"}


def datasets_table(versions: list[DatasetInfo]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Dataset": v.id, "Name": v.name, "Kind": plain(v.kind), "Status": plain(v.status),
        "Training examples": v.train_examples, "Validation examples": v.validation_examples,
        "Tokens": f"{v.tokens:,}" + (" (estimated)" if v.tokens_estimated else ""),
        "Built by": v.built_by, "Built": when(v.created_at),
        "Decided by": v.decided_by or "–", "Decided": when(v.decided_at),
    } for v in versions])


def dataset_stats(v: DatasetInfo) -> None:
    """What went in, what was left out and with which filters, as three small tables."""
    a, b, c = st.columns(3)
    for col, title, data in ((a, "What went in", v.counts), (b, "Left out, and why", v.skipped),
                             (c, "Filters used", v.filters)):
        col.markdown(f"**{title}**")
        rows = dict_rows(data, key="What", val="Count" if data is not v.filters else "Value")
        if rows:
            col.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        else:
            col.caption("nothing")
    if v.decision_reason:
        st.caption(f"Decision reason: {v.decision_reason}")


def jobs_table(jobs: list[JobInfo]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Fine-tune": j.id, "Dataset": j.dataset_version_id, "Provider": PROVIDERS.get(j.provider, j.provider),
        "Status": plain(j.status), "Base model": j.base_model, "Model made": j.fine_tuned_model or "–",
        "Estimated cost": f"${j.estimated_cost_usd:,.2f}",
        "Actual cost": f"${j.actual_cost_usd:,.2f}" if j.actual_cost_usd is not None else "–",
        "Launched by": j.launched_by, "Started": when(j.created_at), "Finished": when(j.finished_at),
    } for j in jobs])


def job_progress(j: JobInfo) -> None:
    """How far the job is through the provider's steps, its last check, error and events."""
    if j.status in STEPS:
        step = STEPS.index(j.status)
        st.progress(step / (len(STEPS) - 1), text=f"Step {step + 1} of {len(STEPS)}: {plain(j.status)}"
                    + (f" · last checked {when(j.last_polled_at)}" if j.last_polled_at else ""))
    else:
        st.caption(f"{plain(j.status)} at {when(j.finished_at)}")
    if j.error:
        st.error(f"The provider said: {j.error}")
    left, right = st.columns(2)
    left.markdown("**Settings**")
    left.dataframe(pd.DataFrame(dict_rows(j.hyperparameters, key="Setting") or [{"Setting": "defaults"}]),
                   hide_index=True, width="stretch")
    right.markdown("**Result and evaluation**")
    result = {**j.result, **({"trained_tokens": j.trained_tokens} if j.trained_tokens else {})}
    if result:
        right.dataframe(pd.DataFrame(dict_rows(result, key="Measure")), hide_index=True, width="stretch")
    else:
        right.caption("No result yet: it appears when the job has finished.")
    if j.events:
        st.markdown("**Events**")
        st.dataframe(events_table(j.events), hide_index=True, width="stretch")


def events_table(events: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{"When": when(e.get("at")), "Level": plain(e.get("level")),
                          "What happened": e.get("message", "")} for e in reversed(events)])
