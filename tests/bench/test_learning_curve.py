"""SMOKE TEST of the self-learning benchmark (bench/learning_curve.py) — not the benchmark.

Runs every variant in a tiny quick mode (5 BANKING77 intents, 2 weeks of 12 questions, 30
test questions, the hashing embedder, no PII model) on SQLite in a temporary folder, and
checks the JSON shape the README and docs rely on and that the learning loop moved. The real
numbers come from `python -m bench.learning_curve` (docs/learning_curve.md).
"""

from __future__ import annotations

import json

import pytest

from bench import learning_curve
from bench.learning_sim import DATA_DIR

pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(not (DATA_DIR / "train.csv").exists(), reason=f"BANKING77 not found in {DATA_DIR}"),
]

KEYS = ("accuracy", "containment", "answered_precision", "live_containment", "labels_consumed")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("lc") / "learning_curve.json"
    learning_curve.main([
        "--intents", "5", "--weeks", "2", "--per-week", "12", "--test-limit", "30", "--budget", "8",
        "--embedder", "hashing", "--scrubber", "none", "--threshold", "0.3", "--quiet", "--out", str(out),
    ])
    return out


def test_json_has_the_documented_shape(result):
    data = json.loads(result.read_text())
    assert data["threshold"] == 0.3
    assert data["weeks"] == [0, 1, 2]
    assert set(data["variants"]) == {"learning", "static", "votes_only", "ceiling"}
    for v in data["variants"].values():
        for key in KEYS:
            assert len(v[key]) == 3, key
        assert v["live_containment"][0] is None
        assert all(0 <= x <= 1 for x in v["accuracy"] + v["containment"])
    assert result.with_suffix(".png").stat().st_size > 0


def test_learning_consumes_labels_and_grows_the_kb(result):
    v = json.loads(result.read_text())["variants"]
    learning, static, ceiling = v["learning"], v["static"], v["ceiling"]
    assert learning["people"]["reviews"] > 0
    assert learning["labels_consumed"][-1] > learning["labels_consumed"][0]
    assert learning["kb_chunks"][-1] > learning["kb_chunks"][0]
    assert static["kb_chunks"][-1] == static["kb_chunks"][0] == 5
    assert static["accuracy"][0] == static["accuracy"][-1]
    assert ceiling["kb_chunks"][0] > learning["kb_chunks"][-1]


def test_unknown_variant_is_refused():
    with pytest.raises(SystemExit):
        learning_curve.parse_args(["--variants", "learning,magic"])
