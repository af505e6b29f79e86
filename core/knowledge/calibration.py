"""What a close match scores in one knowledge base: the relevance floor and ceiling of the
confidence (``core.knowledge.confidence``), measured on the KB version itself when it is built.

Cosine scores mean different things in different knowledge bases. Where chunks are answered
questions (many paraphrases per topic), a question about a topic the KB does not hold still
finds a chunk at 0.7, while a right match scores 0.85; where chunks are long answers (a price
list), a right match scores 0.5 and an unrelated question 0.2. Fixed ``kb_score_floor`` /
``kb_score_ceiling`` settings fit one kind and fail the other: at the old fixed defaults the
responder answered 96 % of questions about 20 BANKING77 intents its KB did not hold.

``calibrate`` measures, for the version being built, the best-chunk scores of questions whose
best chunk is right, and sets the floor at their 10th percentile and the ceiling at their median
(so ``kb_escalation_threshold`` 0.3 answers a question that scores about as well as a typical
right match, minus a little, and escalates one that scores below the right matches' low tail).
The questions come from, in order:

1. the evaluation set (``evaluation_question`` rows that name a chunk, an external id or an
   intent; out-of-scope and answer-text questions are skipped), when at least ``MIN_SAMPLES``
   of them find a right best chunk;
2. else the chunks' own titles, each searched against the other chunks (leave-one-out), where
   the nearest other chunk has the same category: the titles of a Q&A knowledge base are its
   questions;
3. else no calibration: the fixed settings apply.

The calibration is written into the version's index file (``KBIndex.calibration``), so it stays
with the version it was measured on (rollbacks and experiment arms included). The responder
and the evaluation gate decide with ``decision_settings(settings, index.calibration)``.
``SUPPORTLOOP_KB_SCORE_CALIBRATION=off`` keeps the fixed floor and ceiling (the calibration is
still measured and stored, so turning it on needs no rebuild).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from core.platform.models import EvaluationQuestion
from core.platform.services import Embedder

MIN_SAMPLES = 20
FLOOR_PERCENTILE = 10
CEILING_PERCENTILE = 50
MIN_SPAN = 0.02  # ceiling - floor, so a KB of near-identical scores still has a slope
TITLE_SAMPLE = 200  # titles embedded at most per build (about 1 s with MiniLM on 2 cores)


@dataclass(frozen=True)
class Calibration:
    """The relevance floor and ceiling measured on one KB version, where from and on how many
    right matches."""

    floor: float
    ceiling: float
    source: str  # "evaluation" | "titles"
    samples: int

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Calibration | None:
        return cls(**data) if data else None


class CalibratedSettings:
    """``settings`` with the calibrated floor and ceiling (every other attribute unchanged)."""

    def __init__(self, settings: Any, calibration: Calibration):
        self._settings = settings
        self.kb_score_floor = calibration.floor
        self.kb_score_ceiling = calibration.ceiling

    def __getattr__(self, name: str) -> Any:
        return getattr(self._settings, name)


def decision_settings(settings: Any, calibration: Calibration | None) -> Any:
    """The settings the confidence of a KB version is decided with: its calibration's floor and
    ceiling unless there is none or calibration is off."""
    if calibration is None or getattr(settings, "kb_score_calibration", "auto") == "off":
        return settings
    return CalibratedSettings(settings, calibration)


def _checkable(q: EvaluationQuestion) -> bool:
    """An in-scope question that names its chunk, external id or intent."""
    by_intent = bool((q.intent or "").strip()) and not (q.expected_answer or "").strip()
    names = q.expected_chunk_id is not None or bool(q.expected_external_id) or by_intent
    return not q.should_escalate and names


def _right(row: Any, q: EvaluationQuestion) -> bool:
    """Whether ``row`` answers the (checkable) question ``q``."""
    if q.expected_chunk_id is not None:
        return row.chunk_id == q.expected_chunk_id
    if q.expected_external_id:
        return row.external_id == q.expected_external_id
    return row.category == q.intent.strip().lower()


def question_scores(index: Any, questions: Sequence[EvaluationQuestion], embedder: Embedder) -> list[float]:
    """Best-chunk scores of the evaluation questions whose best chunk is right."""
    usable = [q for q in questions if _checkable(q)]
    if len(usable) < MIN_SAMPLES or not index.rows:
        return []
    scores, positions = index.search_vectors(embedder.encode([q.question for q in usable]), 1)
    return [float(s[0]) for q, s, p in zip(usable, scores, positions, strict=True)
            if p[0] >= 0 and _right(index.rows[int(p[0])], q)]


def title_scores(index: Any, embedder: Embedder, *, seed: int = 0) -> list[float]:
    """Leave-one-out scores of chunk titles (up to ``TITLE_SAMPLE``) whose nearest other chunk
    has the same category."""
    rows = [i for i, r in enumerate(index.rows) if (r.title or "").strip() and (r.category or "").strip()]
    if len(rows) < MIN_SAMPLES:
        return []
    picked = sorted(random.Random(seed).sample(rows, min(TITLE_SAMPLE, len(rows))))
    scores, positions = index.search_vectors(embedder.encode([index.rows[i].title for i in picked]), 3)
    out = []
    for i, srow, prow in zip(picked, scores, positions, strict=True):
        other = next(((s, int(p)) for s, p in zip(srow, prow, strict=True) if p >= 0 and int(p) != i), None)
        if other is not None and index.rows[other[1]].category == index.rows[i].category:
            out.append(float(other[0]))
    return out


def calibrate(index: Any, questions: Sequence[EvaluationQuestion], embedder: Embedder) -> Calibration | None:
    """The calibration of a freshly built index (None when too few right matches were found; the
    fixed settings apply then). Measured whatever ``kb_score_calibration`` says, so a version
    built while it was off can be served calibrated later; ``decision_settings`` applies it."""
    for source, scores in (("evaluation", lambda: question_scores(index, questions, embedder)),
                           ("titles", lambda: title_scores(index, embedder))):
        found = scores()
        if len(found) >= MIN_SAMPLES:
            floor = float(np.percentile(found, FLOOR_PERCENTILE))
            ceiling = max(float(np.percentile(found, CEILING_PERCENTILE)), floor + MIN_SPAN)
            return Calibration(round(floor, 4), round(ceiling, 4), source, len(found))
    return None
