"""Launching and cancelling fine-tunes, on SQLite and PostgreSQL: the preflight refuses with what
is missing (approval, examples, price, quarterly budget), the rights, cancel, and a missing key."""

from __future__ import annotations

import datetime as dt

import pytest

from core.platform.clock import FixedClock
from core.platform.errors import Conflict, PermissionDenied, ValidationError
from core.platform.models import DatasetVersion, FineTuneJob
from core.training.datasets import approve_dataset
from core.training.finetune import launch as ft
from core.training.finetune.factory import default_provider_factory
from core.training.finetune.jobs import get_job
from core.training.finetune.polling import poll
from core.training.finetune.preflight import quarter_of
from tests.factories import ADMIN, REVIEWER, VIEWER
from tests.factories.training import T0, approved_dataset


# --- preflight and cost control ---------------------------------------------------------------------
def test_preflight_refuses_with_what_is_missing(session, cfg, scrubber, fake):
    pending = approved_dataset(session, cfg, scrubber, approve=False)
    clock = FixedClock(T0)
    with pytest.raises(ValidationError, match="an admin must approve it first"):
        ft.launch(session, cfg, pending, ADMIN, clock=clock)
    approve_dataset(session, cfg, pending, ADMIN)
    with pytest.raises(PermissionDenied, match=f"{VIEWER.name} is a viewer"):
        ft.launch(session, cfg, pending, VIEWER, clock=clock)
    strict = cfg.model_copy(update={"dataset_min_examples": 200})
    with pytest.raises(ValidationError, match=r"has 24 examples; a fine-tune needs at least 200 \(176 more"):
        ft.launch(session, strict, pending, ADMIN, clock=clock)
    pf = ft.check_launch(session, cfg, pending, clock=clock)
    ds = session.get(DatasetVersion, pending)
    assert pf.ok and pf.estimated_tokens == ds.train_tokens * 3
    assert pf.estimated_cost_usd == round(ds.train_tokens * 3 * 3.00 / 1e6, 4)
    poor = cfg.model_copy(update={"finetune_quarterly_budget_usd": pf.estimated_cost_usd / 2})
    with pytest.raises(ValidationError, match="exceeds the quarterly budget"):
        ft.launch(session, poor, pending, ADMIN, clock=clock)
    with pytest.raises(ValidationError, match="no training price for base model 'mystery-model'"):
        ft.launch(session, cfg, pending, ADMIN, base_model="mystery-model", clock=clock)
    assert session.query(FineTuneJob).count() == 0 and fake.requests == []
    # spend of the quarter counts: a launched job's estimate uses the budget up
    tight = cfg.model_copy(update={"finetune_quarterly_budget_usd": pf.estimated_cost_usd * 1.5})
    ft.launch(session, tight, pending, ADMIN, clock=clock)
    again = ft.check_launch(session, tight, pending, clock=clock)
    assert again.quarter_spent_usd == pf.estimated_cost_usd and not again.ok
    # next quarter the budget is fresh
    label, start, end = quarter_of(T0)
    assert label == "2026-Q2" and (start, end) == (dt.datetime(2026, 4, 1), dt.datetime(2026, 7, 1))
    assert ft.check_launch(session, tight, pending, clock=FixedClock(end)).ok


def test_cancel_needs_the_right_and_an_open_job(session, cfg, scrubber, fake):
    clock = FixedClock(T0)
    ds_id = approved_dataset(session, cfg, scrubber)
    job = ft.launch(session, cfg, ds_id, ADMIN, clock=clock)
    poll(session, default_provider_factory(cfg), cfg, clock)
    for who in (VIEWER, REVIEWER):
        with pytest.raises(PermissionDenied):
            ft.cancel(session, cfg, job.id, who)
    assert ft.cancel(session, cfg, job.id, ADMIN, clock=clock).status == "cancelled"
    assert get_job(session, job.id).finished_at is not None
    with pytest.raises(Conflict, match="only an open job"):
        ft.cancel(session, cfg, job.id, ADMIN)
    # a missing key is refused before anything is stored
    nokey = cfg.model_copy(update={"openai_api_key": ""})
    with pytest.raises(ValidationError, match="SUPPORTLOOP_OPENAI_API_KEY"):
        ft.launch(session, nokey, ds_id, ADMIN, clock=clock)
    assert session.query(FineTuneJob).count() == 1
