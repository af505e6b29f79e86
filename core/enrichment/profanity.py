"""Profanity and abuse flags for customer messages and assistant drafts.

Two checks, both offline:

- **profanity**: the probability of ``alt-profanity-check`` (a linear model over word
  n-grams that ships inside the package; nothing is downloaded) at or above
  ``settings.profanity_threshold``, or a masked swear word (``f*ck``, ``sh1t``) that the
  model's vocabulary misses;
- **abuse**: a small list of patterns for threats and personal attacks ("I will find you",
  "you are useless", "kill yourself") that are abusive without a swear word.

A flagged customer message is kept for the record but stays out of training data and KB
promotion (``core.enrichment.enrich.eligible_for_training``); a flagged assistant draft is never sent:
it is held for review (``core.enrichment.enrich.hold_reasons``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import numpy as np

PROFANITY = "profanity"
ABUSE = "abuse"

# Swear words written with symbols or digits in them (the model's vocabulary has the plain
# words). Matched on lower-cased text.
_SEP = r"[\s*#@!._\-]*"
MASKED_PROFANITY = [
    re.compile(rf"\bf+{_SEP}[u*@]+{_SEP}c*{_SEP}k+(?:ing|in|er|ers|ed|s)?\b"),
    re.compile(rf"\bs+{_SEP}h+{_SEP}[i1!*]+{_SEP}t+(?:ty|s)?\b"),
    re.compile(rf"\bb+{_SEP}[i1!*]+{_SEP}t?{_SEP}c+{_SEP}h+(?:es|y)?\b"),
    re.compile(rf"\ba+{_SEP}[s$5]{{2}}{_SEP}h+{_SEP}[o0*]+{_SEP}l+{_SEP}e+s?\b"),
    re.compile(rf"\bc+{_SEP}[u*]+{_SEP}n+{_SEP}t+s?\b"),
    re.compile(r"\bwtf\b|\bstfu\b|\bfml\b"),
]

# Threats, harassment and abuse aimed at a person, with or without swear words.
_YOU = r"(?:you|u|ya|your staff|your chef|your team|your people)"
ABUSE_PATTERNS = [
    re.compile(rf"\b(?:i(?:'ll| will| am going to|'m going to|'m gonna| gonna)|we(?:'ll| will))\s+"
               rf"(?:kill|hurt|beat|find|destroy|punch|stab|shoot|end)\s+{_YOU}\b"),
    re.compile(r"\b(?:kill|hang|shoot) (?:yourself|yourselves|urself)\b|\bkys\b"),
    re.compile(r"\b(?:go (?:die|to hell)|die in a fire|drop dead|rot in hell)\b"),
    re.compile(rf"\b{_YOU}\s+(?:are|r|re|is)\s+(?:an?\s+|such\s+an?\s+|so\s+|all\s+)?"
               r"(?:idiot|idiots|moron|morons|stupid|useless|pathetic|worthless|incompetent|"
               r"clowns?|losers?|trash|garbage|scum|thie(?:f|ves)|liars?|crooks?|retard(?:ed|s)?)\b"),
    re.compile(r"\b(?:shut up|shut your mouth|piece of (?:garbage|trash|crap))\b"),
    re.compile(r"\b(?:i know where (?:you|u) live|watch your back|you(?:'ll| will) regret (?:this|it))\b"),
    re.compile(r"\b(?:retard(?:ed|s)?|f[a@]gg?[o0]ts?|n[i1]gg(?:er|a)s?|tr[a@]nn(?:y|ies)|sp[i1]cs?)\b"),
]


@dataclass
class FlagResult:
    """The verdict on one text: flagged or not, why, and the model's probability."""

    flagged: bool
    score: float  # profanity probability (0-1) of the model
    reasons: list[str] = field(default_factory=list)  # "profanity", "abuse"
    matches: list[str] = field(default_factory=list)  # the matched words or phrases


_LOCK = threading.Lock()
_PREDICT = None


def _predict_prob():
    """``profanity_check.predict_prob``, imported once (the import loads its model)."""
    global _PREDICT
    with _LOCK:
        if _PREDICT is None:
            # reason: importing profanity_check loads its scikit-learn model (about a second)
            from profanity_check import predict_prob

            _PREDICT = predict_prob
        return _PREDICT


def profanity_probabilities(texts: list[str]) -> np.ndarray:
    """The model's profanity probability of every text (0 for empty texts)."""
    if not texts:
        return np.zeros(0, dtype=np.float64)
    probs = np.asarray(_predict_prob()([t or "" for t in texts]), dtype=np.float64)
    probs[[not (t or "").strip() for t in texts]] = 0.0
    return probs


def pattern_matches(text: str) -> tuple[list[str], list[str]]:
    """Masked swear words and abuse phrases found in ``text``: (profanity, abuse)."""
    low = (text or "").lower()
    prof = [m.group(0) for p in MASKED_PROFANITY for m in p.finditer(low)]
    abuse = [m.group(0) for p in ABUSE_PATTERNS for m in p.finditer(low)]
    return prof, abuse


def check_texts(texts: list[str], threshold: float = 0.9) -> list[FlagResult]:
    """Check many texts at once (one model call): profanity and abuse flags of each."""
    probs = profanity_probabilities(list(texts))
    out = []
    for text, p in zip(texts, probs, strict=True):
        prof, abuse = pattern_matches(text)
        reasons = []
        if p >= threshold or prof:
            reasons.append(PROFANITY)
        if abuse:
            reasons.append(ABUSE)
        out.append(FlagResult(bool(reasons), round(float(p), 4), reasons, prof + abuse))
    return out


def check_text(text: str, threshold: float = 0.9) -> FlagResult:
    """Check one text (see ``check_texts``)."""
    return check_texts([text], threshold)[0]
