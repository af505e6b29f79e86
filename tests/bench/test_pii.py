"""SMOKE TEST of the PII benchmark (bench/pii.py) — not the benchmark.

Runs it in quick mode (60 texts per set, plain Presidio on 20) into a temporary file and checks
the JSON shape docs/pii.md and the issue-18 report rely on. The real numbers come from
`python -m bench.pii`.
"""

from __future__ import annotations

import json

import pytest

from bench import pii

pytestmark = pytest.mark.bench


def test_quick_run_writes_the_documented_shape(tmp_path):
    out = tmp_path / "pii.json"
    pii.main(["--quick", "--output", str(out)])
    res = json.loads(out.read_text())
    held = res["heldout"]
    assert res["heldout_set"] == "heldout_v4" and held["messages"] == 60
    assert set(held["per_type"]) >= set(pii.TYPES)
    for key in ("structured_recall", "names_addresses_recall", "precision"):
        assert 0 <= held[key] <= 1
    assert res["ms_per_message_p50"] > 0 and res["cpu_ms_per_message_p50"] > 0
    assert res["plain_presidio"]["heldout"]["messages"] == 20
    assert "errors" not in held  # per-example held-out results are never kept


def test_scoring_counts_a_gold_span_found_only_when_fully_redacted():
    gold = [{"type": "PHONE_NUMBER", "start": 5, "end": 17}]
    rows = [{"id": "x", "text": "call 713-555-0199 now", "entities": gold}]
    half = pii.score(rows, [[{"type": "PHONE_NUMBER", "start": 5, "end": 12}]])
    full = pii.score(rows, [[{"type": "PERSON", "start": 4, "end": 18}]])
    assert half["per_type"]["PHONE_NUMBER"]["recall"] == 0 and half["precision"] == 1
    assert full["per_type"]["PHONE_NUMBER"]["recall"] == 1  # type-agnostic, as redaction is
    assert pii.score(rows, [[{"type": "PERSON", "start": 0, "end": 4}]])["precision"] == 0
