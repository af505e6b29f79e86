"""Benchmark of the independent export check (core.platform.pii_check) on the held-out PII set.

For every held-out text (tests/data/pii/heldout_v2.jsonl) the scrubber runs first, as in
production; then the export check reads the scrubbed text. It reports

- ``caught_after_scrubber``: of the gold spans the scrubber left (partly) unredacted, the share
  the check flags (a flag overlapping the leaked characters), per type and overall: how much of
  the scrubber's misses the second layer stops;
- ``texts_refused``: the share of scrubbed texts the check flags at all (among texts with no
  leak, this is the price: examples an admin must approve or that stay out);
- ``ms_per_text_p50`` of the check alone (warm, one text at a time).

    .venv/bin/python -m bench.pii_check [--quick] [--out bench/results/pii_check.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from core.platform.pii import get_scrubber
from core.platform.pii_check import get_checker

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii" / "heldout_v2.jsonl"
OUT = Path(__file__).resolve().parent / "results" / "pii_check.json"


def _leaks(text: str, gold: list[dict], scrubbed_entities: list) -> list[dict]:
    """Gold spans with at least one character the scrubber did not replace."""
    covered = set()
    for e in scrubbed_entities:
        covered.update(range(e.start, e.end))
    return [g for g in gold if any(i not in covered for i in range(g["start"], g["end"])
                                   if not text[i].isspace())]


def _caught(value: str, scrubbed: str, flags: list) -> bool:
    """Whether a flag on the scrubbed text overlaps a piece of the leaked value left in it."""
    for piece in (p for p in value.split() if len(p) >= 2):
        start = scrubbed.find(piece)
        while start >= 0:
            if any(f.start < start + len(piece) and start < f.end for f in flags):
                return True
            start = scrubbed.find(piece, start + 1)
    return False


def run(limit: int | None = None) -> dict:
    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()][:limit]
    scrubber, checker = get_scrubber(), get_checker()
    checker.check_text("warm up 415-555-0132")
    leaked, caught = Counter(), Counter()
    refused = refused_clean = clean = 0
    times = []
    for row in rows:
        res = scrubber.scrub(row["text"])
        leaks = _leaks(row["text"], row["entities"], res.entities)
        t0 = time.perf_counter()
        flags = checker.check_text(res.text)
        times.append((time.perf_counter() - t0) * 1000)
        refused += bool(flags)
        if not leaks:
            clean += 1
            refused_clean += bool(flags)
        for g in leaks:
            leaked[g["type"]] += 1
            caught[g["type"]] += _caught(row["text"][g["start"]:g["end"]], res.text, flags)
    total_leaked = sum(leaked.values())
    return {
        "texts": len(rows),
        "leaked_spans": dict(leaked),
        "caught_after_scrubber": {
            "per_type": {t: round(caught[t] / n, 3) for t, n in sorted(leaked.items())},
            "overall": round(sum(caught.values()) / total_leaked, 3) if total_leaked else None,
        },
        "texts_refused": round(refused / len(rows), 3),
        "texts_refused_without_leak": round(refused_clean / clean, 3) if clean else None,
        "ms_per_text_p50": round(statistics.median(times), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 texts only (the smoke test)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    result = run(40 if args.quick else None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
