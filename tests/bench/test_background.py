"""SMOKE TEST of the background-work benchmark (bench/background.py) — not the benchmark.

Quick mode on SQLite: the API (uvicorn) and three job runners as real processes, chat at
1/s and votes at 10/s through 4-second phases (idle, the small demo as a queued job, a KB
refresh, both together); checks the JSON shape and that every phase measured both kinds of
requests and every job finished. The real numbers come from `python -m bench.background`.
"""

from __future__ import annotations

import json

import pytest

from bench import background

pytestmark = pytest.mark.bench


@pytest.mark.timeout(300)
def test_quick_background_run_has_the_documented_shape(tmp_path):
    out = tmp_path / "background.json"
    result = background.main(["--quick", "--quiet", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(result))
    sqlite = data["backends"]["sqlite"]
    assert list(sqlite["phases"]) == ["idle", "demo", "refresh", "all"]
    for kind in ("chat", "vote"):  # a busy machine may starve a 4-second phase, not the whole run
        assert sum(p[kind]["ok"] for p in sqlite["phases"].values()) > 0, kind
    for name, phase in sqlite["phases"].items():
        assert phase["seconds"] >= 4
        for kind in ("chat", "vote"):
            m = phase[kind]
            assert set(m) >= {"sent", "ok", "errors", "p50_ms", "p99_ms", "max_ms"}, (name, kind)
            assert m["ok"] + m["errors"] == m["sent"], (name, kind, m)
            if m["ok"]:
                assert m["max_ms"] >= m["p99_ms"] >= m["p50_ms"] > 0
        assert all(j["status"] == "succeeded" for j in phase["jobs"]), (name, phase["jobs"])
        assert isinstance(phase["enqueue_failures"], list)
    assert [j["kind"] for j in sqlite["phases"]["demo"]["jobs"]] == ["demo_load"]
    assert [j["kind"] for j in sqlite["phases"]["all"]["jobs"]] == ["demo_load", "kb_refresh"]
    assert sqlite["jobs_left_open"] == 0
    assert set(sqlite) >= {"errors", "chat_p99_ms_worst", "vote_p99_ms_worst", "meets_targets"}
