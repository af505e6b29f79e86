"""SMOKE TEST of the export-check benchmark (bench/pii_check.py) — not the benchmark.

Runs it on 40 held-out texts and checks the JSON shape; the figures come from
`python -m bench.pii_check`.
"""

from __future__ import annotations

import json

import pytest

from bench import pii_check

pytestmark = [pytest.mark.bench]


def test_quick_run_writes_the_figures(tmp_path):
    out = tmp_path / "pii_check.json"
    pii_check.main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["texts"] == 40
    assert set(data) >= {"leaked_spans", "caught_after_scrubber", "texts_refused", "ms_per_text_p50"}
    assert 0 <= data["texts_refused"] <= 1 and data["ms_per_text_p50"] > 0
