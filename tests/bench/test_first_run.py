"""SMOKE TEST of the first-run benchmark (bench/first_run.py) — not the benchmark.

Runs it in quick mode (the small demo) from a copy of the working tree: the steps of
`make run` start the dashboard, the API and the runner, the demo loads as a queued job, and the
benchmark sees the dashboard answer and the job succeed, then stops every process it started.
The real numbers come from `python -m bench.first_run` (bench/results/first_run.json).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from bench import first_run

pytestmark = [pytest.mark.bench, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]


def test_quick_first_run_measures_both_times_and_stops_its_processes(tmp_path):
    out = tmp_path / "first_run.json"
    result = first_run.main(["--quick", "--source", "worktree", "--quiet", "--timeout", "500", "--keep",
                             "--out", str(out)])
    data = json.loads(out.read_text())
    assert data == result
    assert not data.get("error"), data.get("log_tail")
    assert 0 < data["dashboard_ready_s"] and 0 < data["demo_complete_s"]
    assert data["size"] == "small" and data["via"]
    folder = data["folder"]
    # nothing of ours is left running: no process has the temporary folder on its command line
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert folder not in ps
    shutil.rmtree(folder, ignore_errors=True)
