"""Which examples enter a dataset: the filters' defaults and checks, each skip reason, and the
deterministic, stratified sample and split."""

import datetime as dt

import pytest

from core.platform.errors import ValidationError
from core.training.selection import (
    DatasetFilters,
    priority,
    skip_reason,
    split_train_validation,
    stratified_sample,
)

NOW = dt.datetime(2026, 5, 10)


def _row(i: int, **kw) -> dict:
    row = {"id": i, "active": True, "human_verified": True, "quality_score": 1.0, "rating": None,
           "csat": None, "led_to_booking": False, "created_at": NOW, "intent": "pricing", "tags": [],
           "source": "approved", "question": "q", "answer": "a"}
    return {**row, **kw}


def test_filters_take_their_settings_and_are_checked(settings):
    f = DatasetFilters().resolved(settings)
    assert f.min_quality == settings.dataset_min_quality and f.seed == settings.dataset_seed
    assert DatasetFilters.from_dict(f.as_dict()) == f
    for bad in (DatasetFilters(kind="video"), DatasetFilters(validation_share=1.0),
                DatasetFilters(max_examples=0), DatasetFilters(sources=["scraped"])):
        with pytest.raises(ValidationError):
            bad.resolved(settings)


def test_each_skip_reason(settings):
    f = DatasetFilters(since=NOW - dt.timedelta(days=1), intents=["pricing"], tags=["x"],
                       sources=["imported"], only_bookings=True).resolved(settings)
    good = _row(1, led_to_booking=True, tags=["x"], source="imported")
    assert skip_reason(good, f) is None
    cases = {
        "inactive": {"active": False}, "not_verified": {"human_verified": False},
        "low_quality": {"quality_score": 0.1}, "low_rating": {"rating": -1}, "no_booking":
        {"led_to_booking": False}, "too_old": {"created_at": NOW - dt.timedelta(days=9)},
        "intent_filtered": {"intent": "menu"}, "tag_filtered": {"tags": []},
        "source_filtered": {"source": "generated"}, "empty": {"answer": " "},
        "handoff": {"answer": "Thanks! I've passed this to our team and someone will get back to you."},
    }
    for reason, change in cases.items():
        assert skip_reason({**good, **change}, f) == reason
    assert skip_reason({**good, "csat": 2}, f) == "low_rating"  # the conversation's CSAT counts too


def test_an_admin_decided_example_is_rated_by_the_admin_not_the_customer(settings):
    f = DatasetFilters().resolved(settings)
    for source in ("approved", "edited"):  # gold by the admin's decision
        assert skip_reason(_row(1, source=source, rating=-1, csat=1), f) is None
    assert skip_reason(_row(1, source="imported", rating=-1), f) == "low_rating"
    assert skip_reason(_row(1, source="edited", answer="Sorry, I can't help with that."), f) == "handoff"


def test_sample_and_split_are_deterministic_and_stratified():
    rows = [_row(i, intent="pricing" if i < 30 else "travel") for i in range(40)]
    kept, dropped = stratified_sample(rows, 10, seed=7)
    assert len(kept) == 10 and len(dropped) == 30
    assert sum(r["intent"] == "travel" for r in kept) in (2, 3)
    assert stratified_sample(rows, 10, seed=7)[0] == kept
    train, val = split_train_validation(rows, 0.1, seed=7)
    assert (len(train), len(val)) == (36, 4) and {r["intent"] for r in val} == {"pricing", "travel"}
    best = sorted([_row(1, quality_score=0.9), _row(2, source="edited"), _row(3)], key=priority)
    assert [r["id"] for r in best] == [2, 3, 1]  # quality first, then edited > approved, then newest
