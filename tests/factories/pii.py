"""Shared pieces of the scrubber's labelled-set tests (test_pii_v2, _v4 ... _v7)."""

from __future__ import annotations

import json

from core.platform.config import Settings
from core.platform.pii import get_scrubber

DEMO_ALLOW_TERMS = "Ember Grill Hibachi,Ember Grill,Kobe beef"  # the demo business's allow-list


def demo_scrubber(*more_terms: str):
    """The scrubber as the demo deployment runs it (its allow-list, plus ``more_terms``)."""
    return get_scrubber(Settings(pii_allow_terms=",".join((DEMO_ALLOW_TERMS, *more_terms))))


def redacted(res, text: str, value: str) -> bool:
    """Whether every letter and digit of ``value`` (first found in ``text``) is redacted in ``res``."""
    start = text.index(value)
    covered = {i for e in res.entities for i in range(e.start, e.end)}
    return all(i in covered for i in range(start, start + len(value)) if text[i].isalnum())


def check_set_rows(on_disk: str, n: int, locales: list[str]) -> None:
    """A generated PII set's file: ``n`` rows of exactly ``locales``, every placeholder filled, romanised
    text, no empty span, the 8 types with at least 50 spans each."""
    rows = [json.loads(line) for line in on_disk.splitlines()]
    assert len(rows) == n and {r["locale"] for r in rows} == set(locales)
    for r in rows:
        assert "{" not in r["text"]  # every placeholder was filled
        assert not any(ord(ch) > 0x24F and ch.isalpha() for ch in r["text"])  # romanised
        for e in r["entities"]:
            assert r["text"][e["start"]:e["end"]].strip()
    counts: dict[str, int] = {}
    for r in rows:
        for e in r["entities"]:
            counts[e["type"]] = counts.get(e["type"], 0) + 1
    assert len(counts) == 8 and min(counts.values()) >= 50, counts
