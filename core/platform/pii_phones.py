"""Phone numbers for the PII scrubber, found by Google's libphonenumber (the ``phonenumbers`` package).

``find_phones(text)`` runs ``phonenumbers.PhoneNumberMatcher`` with leniency ``POSSIBLE`` for the
regions in ``REGIONS`` (US formats, extensions such as ``x123`` / ``ext. 12``, seven-digit local
numbers, ``+``/``00`` international numbers, and national formats of other countries with a
trunk ``0`` such as ``0494 92 82 32``, ``07700 063 966`` or ``(71) 4233-6306``). Leniency was
measured on the tuning set: ``VALID`` misses national numbers of regions not listed and local
numbers; ``POSSIBLE`` finds them, and the filters below remove what it over-matches (money,
dates, short digit runs). Numbers right after an order/booking/reference cue score below the
accept threshold: they are not replaced but make the text unsafe.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

# Regions whose numbering plans the matcher reads national numbers with; "+"/"00" numbers are
# read in any region. US covers NANP; DE's plan is permissive enough to accept most trunk-0
# national formats of other countries.
REGIONS = ("US", "DE")
_DIGITS_MIN, _DIGITS_MAX = 7, 15
_MONEY_BEFORE = re.compile(r"(?:[$€£¥]|\b(?:usd|eur|gbp|rs|inr)\.?)\s*$", re.IGNORECASE)
_MONEY_SHAPE = re.compile(r"^\d{1,3}(?:[,.]\d{3})*[.,]\d{2}$")
_DATE_SHAPE = re.compile(r"^\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}$")
_IP_SHAPE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){2,3}$")
_NOT_PHONE_CUES = re.compile(r"\b(order|ref|reference|booking|confirmation|invoice|receipt|account|acct|"
                             r"tracking|po|id|ticket)\W*(?:no\.?|number|#)?\W*$", re.IGNORECASE)
_PHONE_CUES = re.compile(r"(call|text|phone|cell|mobile|number|reach|tel|contact|whatsapp|sms|fax|"
                         r"ring|dial|landline)\W*(?:\w+\W+){0,4}$", re.IGNORECASE)
_HINT = re.compile(r"\d[\d \t().\-/]{5,}\d")
# "+" numbers libphonenumber finds impossible for their country (wrong length) are still phones.
_PLUS = re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d[\d .\-]{5,14}\d(?![\w])")


@lru_cache(maxsize=1)
def _warm() -> None:
    """Load the region metadata once (the first match per region reads it from disk)."""
    for region in REGIONS:
        list(PhoneNumberMatcher("call 212-555-0100", region, leniency=Leniency.POSSIBLE))


def _plausible(raw: str, before: str) -> bool:
    digits = re.sub(r"\D", "", raw.split("x")[0].split("ext")[0])
    if not _DIGITS_MIN <= len(digits) <= _DIGITS_MAX:
        return False
    core = raw.strip()
    if _MONEY_BEFORE.search(before):
        return False
    return not any(rx.match(core) for rx in (_MONEY_SHAPE, _DATE_SHAPE, _IP_SHAPE))


def find_phones(text: str) -> list[tuple[int, int, float]]:
    """Phone numbers as (start, end, score); see the module docstring."""
    if not _HINT.search(text):
        return []
    _warm()
    seen: dict[tuple[int, int], float] = {}
    for region in REGIONS:
        for m in PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE):
            before = text[max(0, m.start - 40):m.start]
            if (m.start, m.end) in seen or not _plausible(m.raw_string, before):
                continue
            if m.start and (text[m.start - 1].isalnum() or text[m.start - 1] in "#$"):
                continue
            if _NOT_PHONE_CUES.search(before):
                score = 0.35
            else:
                valid = phonenumbers.is_valid_number(m.number)
                score = 0.85 if valid else 0.7
                if _PHONE_CUES.search(before):
                    score = min(1.0, score + 0.1)
            seen[(m.start, m.end)] = score
    for m in _PLUS.finditer(text):
        inside = [(s, e) for s, e in seen if s < m.end() and m.start() < e]
        if not inside and _plausible(m.group(0), ""):
            seen[m.span()] = 0.6
        elif inside and all(m.start() <= s and e <= m.end() for s, e in inside) and \
                min(s for s, _e in inside) > m.start():
            # "+52 241052800": the matcher read the national part only; the country code is the number's too
            score = max(seen.pop(span) for span in inside)
            seen[m.span()] = score
    return [_bracketed(text, s, e) + (score,) for (s, e), score in seen.items()]


_BRACKETED_PLUS = re.compile(r"\((\+[1-9][\d .\-]{6,18}\d)\)")


def _bracketed(text: str, s: int, e: int) -> tuple[int, int]:
    """"(+49 569575694) 7319 Aldqaq Divide": a "+" number in brackets ends at its bracket (the
    matcher read the house number after it as the number's end)."""
    m = _BRACKETED_PLUS.match(text, s)
    if m and m.end() < e and len(re.sub(r"\D", "", m.group(1))) >= _DIGITS_MIN:
        return m.start(1), m.end(1)
    return s, e
