"""Validation of fine-tuning examples: the token counter (exact offline, or a labelled
estimate) and every rule an example and a JSONL file are checked against."""

import json

from core.training.validation import (
    MAX_EXAMPLE_TOKENS,
    estimate_counter,
    example_problems,
    get_token_counter,
    validate_jsonl,
)


# --- pure helpers ----------------------------------------------------------------------------------
def test_token_counter_is_exact_offline_and_the_estimate_is_labelled():
    counter = get_token_counter("gpt-4o-mini")
    assert counter.name == "o200k_base" and not counter.estimated
    assert counter.count("Hello world") == 2  # o200k_base: [13225, 2375]
    assert get_token_counter("gpt-3.5-turbo").name == "cl100k_base"
    est = estimate_counter()
    assert est.estimated and est.name.startswith("estimate") and est.count("abcdefgh") == 2


def test_example_validation_reports_each_rule(tmp_path):
    counter = get_token_counter("gpt-4o-mini")
    ok = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "weight": 1},
        ]
    }
    assert example_problems(ok, counter)[0] == []
    bad = [
        ({"messages": []}, "non-empty list"),
        (
            {"messages": [{"role": "bot", "content": "x"}, {"role": "assistant", "content": "a"}]},
            "role 'bot'",
        ),
        ({"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "a"}]}, "empty"),
        ({"messages": [{"role": "user", "content": "q"}]}, "no assistant"),
        (
            {
                "messages": [
                    {"role": "user", "content": "q", "weight": 0},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "only allowed on assistant",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "word " * (MAX_EXAMPLE_TOKENS + 10)},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "at most 65536",
        ),
        ({"messages": [{"role": "assistant", "content": "a"}], "extra": 1}, "unexpected key"),
    ]
    for obj, expected in bad:
        problems, _ = example_problems(obj, counter)
        assert any(expected in p for p in problems), (obj, problems)
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps(ok) + "\nnot json\n" + json.dumps(bad[3][0]) + "\n", encoding="utf-8")
    report = validate_jsonl(f, counter)
    assert report.lines == 3 and not report.ok
    assert [p.line for p in report.problems] == [2, 3]
