"""SMOKE TEST of the flood benchmark (bench/flood.py) — not the benchmark.

Runs it in its quick mode (6 s, a 40/s flood from 127.0.0.2, 3 customers from their own
loopback addresses, 1 worker, the default limits) and checks the JSON shape docs/api.md relies
on and that the flood was answered 429 beyond the limit. The real figures come from
`python -m bench.flood`.
"""

from __future__ import annotations

import json

import pytest

from bench import flood

pytestmark = [pytest.mark.bench, pytest.mark.slow]


def test_quick_flood_is_refused_beyond_the_limit(tmp_path):
    out = tmp_path / "flood.json"
    flood.main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["label"].split(":")[0] in ("quiet", "under load")  # from the load average before
    assert set(data["normal_users"]) >= {"requests", "errors", "p50_ms", "p99_ms"}
    f = data["flood"]
    assert f["requests"] == 240 and f["other"] == 0
    # one worker, 10 per 10 s: at most 10 answered in each 10 s window of the 6 s run
    assert 0 < f["answered_200"] <= f["allowed_max"] <= 20
    assert f["answered_429"] == f["requests"] - f["answered_200"]
    assert data["targets"]["flood_429_beyond_limit"] is True
    # the customers beside the flood were served (their latency is a benchmark figure, not a test)
    assert data["normal_users"]["requests"] >= 3 and data["normal_users"]["errors"] == 0


def test_allowed_max_takes_the_tightest_window():
    assert flood.allowed_max("10/10 seconds;60/minute", 2, 30) == 60
    assert flood.allowed_max("10/10 seconds;20/minute", 2, 30) == 40
    assert flood.allowed_max("", 2, 30) is None
