"""How sure the responder is of an answer, from the retrieval scores alone, and which
retrieved chunk answers.

``decide(hits, settings)`` returns a ``Decision``: the category (topic) answered, the chunk
that answers it and a confidence in [0, 1]. Two methods (``kb_confidence_method``):

``margin`` (the default): the best chunk answers; confidence = relevance x ambiguity factor:

- relevance: the best chunk's cosine score mapped linearly from ``kb_score_floor`` (0) to
  ``kb_score_ceiling`` (1) and clipped;
- ambiguity factor: 1 when no retrieved chunk of another category competes; otherwise
  0.5 + 0.5 x min(1, margin / ``kb_margin_scale``), where margin is the best score minus the
  best score of a chunk from a *different category*. Two topics scoring alike (a question
  that could be about travel fees or about prices) halve the confidence; chunks of the same
  category never penalise each other, since any of them answers the topic.

``vote`` (for knowledge bases that hold many answered questions per topic, e.g. approved
Q&A pairs): every retrieved chunk votes for its category with weight
exp((score - best score) / ``kb_vote_temperature``); the category with the largest share of
the votes is answered, from its best chunk; confidence = relevance of that chunk x the
category's vote share. Near neighbours that agree make it confident; a best chunk
contradicted by several almost-as-close chunks of another topic does not. On BANKING77 (77
intents, bench/learning_curve.py) it answers about 1 point more questions correctly than
the best chunk alone and, at the same answered precision, contains 10-30 points more.

Answers below ``kb_escalation_threshold`` are escalated to a human. The responder
(``core.answering.responder``) and the evaluation gate (``core.knowledge.evaluation``) use the same decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

METHODS = ("margin", "vote")


@dataclass
class Decision:
    """What to answer from a list of hits: ``hit`` (None when there are no hits), its
    ``category``, the ``confidence`` and, for the vote method, each category's vote share."""

    confidence: float
    category: str | None
    hit: Any | None
    position: int | None  # index of ``hit`` in the hits list
    shares: dict[str, float] | None = None


def _relevance(score: float, settings) -> float:
    span = max(settings.kb_score_ceiling - settings.kb_score_floor, 1e-6)
    return min(1.0, max(0.0, (score - settings.kb_score_floor) / span))


def _margin(hits: Sequence, settings) -> Decision:
    best = hits[0]
    other = next((h.score for h in hits[1:] if h.category != best.category), None)
    factor = 1.0
    if other is not None:
        margin = max(0.0, best.score - other)
        factor = 0.5 + 0.5 * min(1.0, margin / settings.kb_margin_scale)
    return Decision(round(_relevance(best.score, settings) * factor, 4), best.category, best, 0)


def _vote(hits: Sequence, settings) -> Decision:
    temperature = max(float(getattr(settings, "kb_vote_temperature", 0.05)), 1e-4)
    top = hits[0].score
    weights: dict[str, float] = {}
    first: dict[str, int] = {}
    for i, h in enumerate(hits):
        weights[h.category] = weights.get(h.category, 0.0) + math.exp((h.score - top) / temperature)
        first.setdefault(h.category, i)
    total = sum(weights.values())
    # the largest share wins; a tie goes to the category of the better-ranked chunk
    category = min(weights, key=lambda c: (-weights[c], first[c]))
    pos = first[category]
    share = weights[category] / total
    conf = _relevance(hits[pos].score, settings) * share
    shares = {c: round(w / total, 4) for c, w in sorted(weights.items(), key=lambda kv: -kv[1])}
    return Decision(round(conf, 4), category, hits[pos], pos, shares)


def decide(hits: Sequence, settings) -> Decision:
    """The decision for ``hits`` (best first; each with ``score`` and ``category``) under the
    configured ``kb_confidence_method`` (see the module docstring)."""
    if not hits:
        return Decision(0.0, None, None, None)
    method = getattr(settings, "kb_confidence_method", "margin")
    return _vote(hits, settings) if method == "vote" else _margin(hits, settings)


def confidence(hits: Sequence, settings) -> float:
    """Confidence in [0, 1] of answering from ``hits`` (best first, with score and category)."""
    return decide(hits, settings).confidence


def escalates(conf: float, settings) -> bool:
    """Whether an answer of this confidence is handed to a human."""
    return conf < settings.kb_escalation_threshold
