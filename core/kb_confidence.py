"""How sure the responder is of an answer, from the retrieval scores alone.

confidence = relevance x ambiguity factor, both in [0, 1]:

- relevance: the best chunk's cosine score mapped linearly from ``kb_score_floor`` (0) to
  ``kb_score_ceiling`` (1) and clipped;
- ambiguity factor: 1 when no retrieved chunk of another category competes; otherwise
  0.5 + 0.5 x min(1, margin / ``kb_margin_scale``), where margin is the best score minus the
  best score of a chunk from a *different category*. Two topics scoring alike (a question
  that could be about travel fees or about prices) halve the confidence; chunks of the same
  category never penalise each other, since any of them answers the topic.

Answers below ``kb_escalation_threshold`` are escalated to a human.
"""

from __future__ import annotations

from collections.abc import Sequence


def confidence(hits: Sequence, settings) -> float:
    """Confidence in [0, 1] of answering from ``hits`` (best first, with score and category)."""
    if not hits:
        return 0.0
    best = hits[0]
    span = max(settings.kb_score_ceiling - settings.kb_score_floor, 1e-6)
    relevance = min(1.0, max(0.0, (best.score - settings.kb_score_floor) / span))
    other = next((h.score for h in hits[1:] if h.category != best.category), None)
    factor = 1.0
    if other is not None:
        margin = max(0.0, best.score - other)
        factor = 0.5 + 0.5 * min(1.0, margin / settings.kb_margin_scale)
    return round(relevance * factor, 4)


def escalates(conf: float, settings) -> bool:
    return conf < settings.kb_escalation_threshold
