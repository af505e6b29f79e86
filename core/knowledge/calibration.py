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


@dataclass
class Probe:
    """The calibration's query vectors, embedded before a build writes anything (SQLite's write
    lock is not held while the model runs): the checkable evaluation questions and, when there
    are too few of those, a sample of the chunks' titles (``positions`` in build order)."""

    questions: list[EvaluationQuestion]
    question_vectors: np.ndarray | None
    positions: list[int]
    title_vectors: np.ndarray | None


def probe(rows: Sequence[Any], questions: Sequence[EvaluationQuestion], embedder: Embedder, *,
          seed: int = 0) -> Probe:
    """Embed what ``measure`` will search, for chunks ``rows`` (each with ``title`` and
    ``category``, in the order of the index to be built)."""
    usable = [q for q in questions if _checkable(q)]
    qvecs = embedder.encode([q.question for q in usable]) if len(usable) >= MIN_SAMPLES else None
    titled = [i for i, r in enumerate(rows) if (r.title or "").strip() and (r.category or "").strip()]
    positions = (sorted(random.Random(seed).sample(titled, min(TITLE_SAMPLE, len(titled))))
                 if len(titled) >= MIN_SAMPLES else [])
    tvecs = embedder.encode([rows[i].title for i in positions]) if positions and qvecs is None else None
    return Probe(usable if qvecs is not None else [], qvecs, positions, tvecs)


def question_scores(index: Any, p: Probe) -> list[float]:
    """Best-chunk scores of the evaluation questions whose best chunk is right."""
    if p.question_vectors is None or not index.rows:
        return []
    scores, positions = index.search_vectors(p.question_vectors, 1)
    return [float(s[0]) for q, s, pos in zip(p.questions, scores, positions, strict=True)
            if pos[0] >= 0 and _right(index.rows[int(pos[0])], q)]


def title_scores(index: Any, p: Probe, embedder: Embedder) -> list[float]:
    """Leave-one-out scores of the sampled chunk titles whose nearest other chunk has the same
    category (the titles are embedded now if the probe skipped them)."""
    if not p.positions:
        return []
    vectors = p.title_vectors
    if vectors is None:  # the evaluation set found too few right matches after all
        vectors = embedder.encode([index.rows[i].title for i in p.positions])
    scores, positions = index.search_vectors(vectors, 3)
    out = []
    for i, srow, prow in zip(p.positions, scores, positions, strict=True):
        other = next(((s, int(q)) for s, q in zip(srow, prow, strict=True) if q >= 0 and int(q) != i), None)
        if other is not None and index.rows[other[1]].category == index.rows[i].category:
            out.append(float(other[0]))
    return out


def measure(index: Any, p: Probe, embedder: Embedder) -> Calibration | None:
    """The calibration of a freshly built index from its probe (None when too few right matches
    were found; the fixed settings apply then). Measured whatever ``kb_score_calibration`` says,
    so a version built while it was off can be served calibrated later; ``decision_settings``
    applies it."""
    for source, scores in (("evaluation", lambda: question_scores(index, p)),
                           ("titles", lambda: title_scores(index, p, embedder))):
        found = scores()
        if len(found) >= MIN_SAMPLES:
            floor = float(np.percentile(found, FLOOR_PERCENTILE))
            ceiling = max(float(np.percentile(found, CEILING_PERCENTILE)), floor + MIN_SPAN)
            return Calibration(round(floor, 4), round(ceiling, 4), source, len(found))
    return None


def calibrate(index: Any, questions: Sequence[EvaluationQuestion], embedder: Embedder) -> Calibration | None:
    """``measure`` with a probe made now (for an index that is already built and written)."""
    return measure(index, probe(index.rows, questions, embedder), embedder)
