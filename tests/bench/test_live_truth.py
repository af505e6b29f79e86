"""SMOKE TEST of the day-in-the-life benchmark (bench/live_truth.py) — not the benchmark.

Runs it in quick mode (60 conversations through a real uvicorn server, real HTTP, the idle close
with an injected clock) on one database at a time, and checks the JSON shape the docs rely on,
that every conversation was driven and closed, and that every dashboard figure equals what the
driver computed from what it sent. The real numbers come from `python -m bench.live_truth`.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from bench import live_truth

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_quick_run_finds_every_figure_true(backend, tmp_path):
    if backend == "postgresql":
        engine = create_engine(live_truth.PG_ADMIN, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - the conftest fixtures skip the same way
            pytest.skip(f"PostgreSQL not reachable: {str(exc).splitlines()[0]}")
        finally:
            engine.dispose()
    out = tmp_path / "live_truth.json"
    live_truth.main(["--quick", "--backends", backend, "--output", str(out)])
    data = json.loads(out.read_text())
    run = data[backend]
    assert set(run) >= {"conversations", "figures_checked", "mismatches", "left_open_after_idle_close"}
    assert run["driver_errors"] == 0, run["driver_error_samples"]
    assert run["conversations"] == 60
    assert run["by_path"]["widget"] > 0 and run["by_path"]["openai"] > 0 and run["by_path"]["ingest"] > 0
    assert run["closed_explicitly"] > 0 and run["closed_by_idle_task"] > 0
    assert run["closed_explicitly"] + run["closed_by_idle_task"] == 60
    assert run["left_open_after_idle_close"] == 0
    assert run["figures_checked"] > 150
    assert run["mismatches"] == 0, data["mismatch_list"]


def test_expected_figures_follow_the_documented_definitions():
    t = live_truth.Truth
    start = live_truth.now()
    truths = [
        t("widget", "web", "a", start, closed=True, frt_s=1.0),  # contained, successful
        t("widget", "web", "b", start, closed=True, handed_off=True, frt_s=1.0, voted=True, down=True),
        t("ingest", "email", "c", start, closed=True, booked=True, value=900.0, csat=3, frt_s=40.0,
          cost_micro=1500),  # booked: successful despite CSAT 3
        t("ingest", "sms", "d", start, closed=True, csat=2, frt_s=700.0, cost_micro=10),  # CSAT < 4
    ]
    got = live_truth.expected(truths)
    assert got["containment_rate"] == 3 / 4 and got["escalation_rate"] == 1 / 4
    assert got["successful_outcome_rate"] == 2 / 4 and got["feedback_rate"] == 3 / 4
    assert got["csat_avg"] == 2.5 and got["conversion_rate"] == 1 / 4 and got["booking_value_usd"] == 900.0
    assert got["cost_usd"] == 0.00151 and got["cost_per_resolution_usd"] == 0.00151 / 3
    assert got["frt_p50_s"] == 5.0  # two of four in the first bin (0-5 s)
    mismatches: list[dict] = []
    assert live_truth.compare("x", {"cost_usd": 0.0000015}, {"cost_usd": 0.000001}, mismatches) == 1
    assert mismatches == []  # a rounding tie may round either way
    live_truth.compare("x", {"csat_avg": 2.5}, {"csat_avg": 2.6}, mismatches)
    assert mismatches == [{"scope": "x", "figure": "csat_avg", "expected": 2.5, "got": 2.6}]


def test_a_slow_answer_bounds_the_first_response_percentiles():
    start = live_truth.now()
    fast = [live_truth.Truth("widget", "web", str(i), start, closed=True, frt_s=1.0) for i in range(3)]
    slow = live_truth.Truth("widget", "web", "s", start, closed=True, frt_known=False, frt_max=40.0)
    lo, hi = live_truth.expected([*fast, slow])["frt_p90_s"]
    assert lo < hi and lo <= 5.0 and hi > 30.0
    mismatches: list[dict] = []
    live_truth.compare("x", {"frt_p90_s": (lo, hi)}, {"frt_p90_s": round((lo + hi) / 2, 1)}, mismatches)
    assert mismatches == []
    live_truth.compare("x", {"frt_p90_s": (lo, hi)}, {"frt_p90_s": hi + 10}, mismatches)
    assert mismatches[0]["figure"] == "frt_p90_s"

