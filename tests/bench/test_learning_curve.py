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
        "--embedder", "hashing", "--scrubber", "none", "--threshold", "0.3", "--finetune-weeks", "2",
        "--quiet", "--out", str(out),
    ])
    return out


def test_json_has_the_documented_shape(result):
    data = json.loads(result.read_text())
    assert data["threshold"] == 0.3
    assert data["weeks"] == [0, 1, 2]
    assert set(data["variants"]) == {"learning", "finetune", "no_score_prior", "static", "votes_only",
                                     "ceiling", "out_of_scope"}
    # the fine-tune cycle ran after week 2's refresh; 24 questions are too few examples to train on
    (cycle,) = data["variants"]["finetune"]["finetunes"]
    assert cycle["week"] == 2 and cycle["outcome"] == "skipped" and "examples" in cycle["reason"]
    assert data["summary"]["finetune"]["finetunes"] == [cycle]
    assert data["config"]["finetune_weeks"] == [2]
    assert len(data["variants"]["out_of_scope"]["oos_escalation"]) == 3
    assert set(data["summary"]) >= {"out_of_scope", "score_prior_effect", "labels_consumed", "targets"}
    tuning = data["config"]["tuning"]
    assert tuning["validation"]["questions"] == data["config"]["validation_questions"] > 0
    assert data["config"]["kb_search_k"] == tuning["kb_search_k"]  # not given: tuned
    assert len(data["config"]["out_of_scope_intents"]) == 1
    for v in data["variants"].values():
        for key in KEYS:
            assert len(v[key]) == 3, key
        assert v["live_containment"][0] is None
        assert all(0 <= x <= 1 for x in v["accuracy"] + v["containment"])
    assert result.with_suffix(".png").stat().st_size > 0


def test_validation_and_out_of_scope_questions_never_reach_the_kb(result):
    data = json.loads(result.read_text())
    cfg = data["config"]
    assert cfg["train_questions"] + cfg["validation_questions"] == len(
        [1 for _ in learning_curve.load_banking77(DATA_DIR, 5).train])
    oos = data["variants"]["out_of_scope"]
    assert oos["kb_chunks"][-1] < data["variants"]["learning"]["kb_chunks"][-1]


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


def test_runs_of_different_variants_merge_into_one_result(result, tmp_path):
    data = json.loads(result.read_text())
    parts = []
    # two single runs, then an earlier merge of four processes whose finetune ran in weeks 1 and 2
    for names, extra in ((("learning", "finetune", "out_of_scope"), {}), (("static", "ceiling"), {}),
                         (("finetune",), {"finetune_weeks": [1, 2], "parallel_runs": 4})):
        part = dict(data, variants={n: data["variants"][n] for n in names}, config=data["config"] | extra)
        parts.append(tmp_path / f"{len(parts)}.json")
        parts[-1].write_text(json.dumps(part))
    merged = learning_curve.main(["--merge", *map(str, parts), "--out", str(tmp_path / "all.json")])
    assert list(merged["variants"]) == ["learning", "finetune", "static", "ceiling", "out_of_scope"]
    # the later run's finetune variant is kept, with the weeks it fine-tuned in; every process counts
    assert merged["config"]["finetune_weeks"] == [1, 2] and merged["config"]["parallel_runs"] == 6
    assert merged["summary"]["out_of_scope"] == data["summary"]["out_of_scope"]
    assert (tmp_path / "all.png").stat().st_size > 0
