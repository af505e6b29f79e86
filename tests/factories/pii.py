"""Shared pieces of the scrubber's labelled-set tests (test_pii_v2, _v4, _v5)."""

from __future__ import annotations

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
