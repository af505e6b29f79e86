"""The demo business's allow-list (core.demo.business.PII_ALLOW_TERMS) reaches the scrubber: its
brand, menu items and the cities it serves are never a <PERSON>, while customers' names still are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.demo.business import CITIES, PII_ALLOW_TERMS
from core.platform.config import Settings
from core.platform.pii import get_scrubber

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def demo_scrubber():
    return get_scrubber(Settings(pii_allow_terms=PII_ALLOW_TERMS))


def test_allow_terms_hold_the_brand_and_every_city():
    terms = PII_ALLOW_TERMS.split(",")
    assert "Ember Grill" in terms and "Ember Grill Hibachi" in terms
    assert set(CITIES) <= set(terms)


@pytest.mark.parametrize("text", [
    "Thanks, Ember Grill!",
    "Ember Grill was amazing at our party.",
    "Do you come to Napa or Monterey? We're in Tracy, near Stockton.",
    "Vallejo or Modesto, whichever is cheaper. Davis works too.",
    "Loved the Kobe beef and the Chateaubriand.",
])
def test_demo_names_are_not_persons(demo_scrubber, text):
    res = demo_scrubber.scrub(text)
    assert "<PERSON>" not in res.text, res.text


def test_a_customer_named_like_a_city_is_still_a_name(demo_scrubber):
    res = demo_scrubber.scrub("Sarah Davis booked Ember Grill Hibachi for Vallejo.")
    assert res.text.startswith("<PERSON> booked Ember Grill Hibachi")


def test_make_run_exports_the_demo_terms():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: export SUPPORTLOOP_PII_ALLOW_TERMS \?= \$\(shell \$\(BIN\)/python -c \\\n"
                     r"\t'from core\.demo\.business import PII_ALLOW_TERMS; print\(PII_ALLOW_TERMS\)'\)$",
                     makefile, re.MULTILINE)
