"""The tone score of assistant answers: 0-1 against the brand voice, with its parts.

The brand voice is a JSON file (``settings.brand_voice_path``; empty = the bundled
core/enrichment/data/brand_voice.json, see docs/enrichment.md for the format): preferred and banned
phrases, greetings and sign-offs, length bounds in words, reading-level bounds (a
Flesch-Kincaid grade computed here, no model), example answers in the right style, and
the weight of every part.

Every part scores 0-1; the tone score is their weighted mean. Parts are stored with the
score (``Message.tone_parts``) so an admin sees why an answer scored low:

- ``phrases``: preferred phrases found (up to ``preferred_target``) and banned phrases
  (each banned phrase costs 0.5);
- ``greeting`` / ``sign_off``: the answer opens with a greeting / closes with an invitation;
- ``length``: 1 inside [min_words, max_words], falling linearly outside;
- ``reading_level``: 1 inside [min_grade, max_grade], falling by 0.25 per grade outside;
- ``similarity``: the best cosine similarity (shared embedder) to an approved example
  answer (the voice's examples plus admin-approved answers), mapped from
  [similarity_floor, similarity_ceiling] to [0, 1]. Left out when no vectors are given.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.platform.errors import ValidationError

DEFAULT_VOICE_PATH = Path(__file__).resolve().parent / "data" / "brand_voice.json"
PARTS = ("phrases", "greeting", "sign_off", "length", "reading_level", "similarity")


@dataclass(frozen=True)
class BrandVoice:
    """How the business wants its answers to sound (see the module docstring)."""

    name: str
    greetings: tuple[str, ...]
    sign_offs: tuple[str, ...]
    preferred_phrases: tuple[str, ...]
    banned_phrases: tuple[str, ...]
    examples: tuple[str, ...]
    weights: dict[str, float] = field(hash=False)
    preferred_target: int = 1
    min_words: int = 12
    max_words: int = 90
    min_grade: float = 3.0
    max_grade: float = 9.0
    similarity_floor: float = 0.2
    similarity_ceiling: float = 0.7
    description: str = ""


def _strings(data: dict, key: str, path: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationError(f"Brand voice {path}: '{key}' must be a list of non-empty strings.")
    return tuple(v.strip() for v in value)


def parse_brand_voice(data: Any, path: str = "<data>") -> BrandVoice:
    """A ``BrandVoice`` from parsed JSON; ValidationError names the field that is wrong."""
    if not isinstance(data, dict):
        raise ValidationError(f"Brand voice {path}: expected a JSON object.")
    weights = data.get("weights", {p: 1.0 for p in PARTS})
    if not isinstance(weights, dict) or any(k not in PARTS for k in weights):
        raise ValidationError(
            f"Brand voice {path}: 'weights' must map parts ({', '.join(PARTS)}) to numbers."
        )
    try:
        weights = {k: float(v) for k, v in weights.items()}
        nums = {k: float(data[k]) for k in ("min_words", "max_words", "min_grade", "max_grade",
                                             "similarity_floor", "similarity_ceiling") if k in data}
        target = int(data.get("preferred_target", 1))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Brand voice {path}: a number is not a number ({exc}).") from exc
    if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
        raise ValidationError(f"Brand voice {path}: weights must be >= 0 and at least one > 0.")
    voice = BrandVoice(
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        greetings=_strings(data, "greetings", path),
        sign_offs=_strings(data, "sign_offs", path),
        preferred_phrases=_strings(data, "preferred_phrases", path),
        banned_phrases=_strings(data, "banned_phrases", path),
        examples=_strings(data, "examples", path),
        weights=weights,
        preferred_target=max(1, target),
        min_words=int(nums.get("min_words", 12)),
        max_words=int(nums.get("max_words", 90)),
        min_grade=nums.get("min_grade", 3.0),
        max_grade=nums.get("max_grade", 9.0),
        similarity_floor=nums.get("similarity_floor", 0.2),
        similarity_ceiling=nums.get("similarity_ceiling", 0.7),
    )
    if voice.min_words < 1 or voice.max_words < voice.min_words:
        raise ValidationError(f"Brand voice {path}: need 1 <= min_words <= max_words.")
    if voice.max_grade < voice.min_grade:
        raise ValidationError(f"Brand voice {path}: need min_grade <= max_grade.")
    if voice.similarity_ceiling <= voice.similarity_floor:
        raise ValidationError(f"Brand voice {path}: need similarity_floor < similarity_ceiling.")
    return voice


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> BrandVoice:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValidationError(
            f"Brand voice file {path} does not exist; fix SUPPORTLOOP_BRAND_VOICE_PATH or leave it empty "
            "for the bundled voice."
        ) from exc
    except json.JSONDecodeError as exc:
        raise ValidationError(f"Brand voice file {path} is not valid JSON: {exc}.") from exc
    return parse_brand_voice(data, path)


def load_brand_voice(path: str | Path | None = None) -> BrandVoice:
    """The brand voice in ``path`` (empty: the bundled one), re-read when the file changes."""
    p = Path(path) if path else DEFAULT_VOICE_PATH
    mtime = p.stat().st_mtime if p.exists() else 0.0
    return _load(str(p), mtime)


# --- reading level ------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)|\n{2,}")
_VOWELS = re.compile(r"[aeiouy]+")


def count_syllables(word: str) -> int:
    """Syllables of an English word by vowel groups (a silent final e does not count)."""
    w = word.lower()
    if w.isdigit() or not w.isalpha() and not w.replace("'", "").isalpha():
        return max(1, len(w) // 2)  # numbers read as a couple of syllables
    w = w.replace("'", "")
    if len(w) <= 3:
        return 1
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")):
        w = w[:-1]
    if w.endswith(("es", "ed")) and not w.endswith(("ted", "ded", "ses", "zes", "ces", "ges")):
        w = w[:-2]
    return max(1, len(_VOWELS.findall(w)))


def words(text: str) -> list[str]:
    """The words (and numbers) of a text."""
    return _WORD.findall(text or "")


def flesch_kincaid_grade(text: str) -> float:
    """The Flesch-Kincaid grade level: 0.39 words/sentence + 11.8 syllables/word - 15.59."""
    ws = words(text)
    if not ws:
        return 0.0
    sentences = max(1, len([s for s in _SENTENCE_END.split(text.strip()) if words(s)]))
    syllables = sum(count_syllables(w) for w in ws)
    return round(0.39 * len(ws) / sentences + 11.8 * syllables / len(ws) - 15.59, 2)


# --- parts --------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9$']+", (text or "").lower().replace("’", "'")))


def _contains(haystack: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(_norm(phrase))}(?![a-z0-9])", haystack) is not None


def _band(value: float, low: float, high: float, slope_low: float, slope_high: float) -> float:
    if value < low:
        return max(0.0, 1.0 - (low - value) * slope_low)
    if value > high:
        return max(0.0, 1.0 - (value - high) * slope_high)
    return 1.0


@dataclass
class ToneResult:
    """The tone score (0-1) of one answer and the parts it was made of."""

    score: float
    parts: dict[str, dict[str, Any]]


def score_text(text: str, voice: BrandVoice, similarity: float | None = None) -> ToneResult:
    """Score one answer against ``voice``. ``similarity`` is its best cosine similarity to
    an approved example answer (None leaves the similarity part out)."""
    norm = _norm(text)
    ws = words(text)
    head, tail = _norm(" ".join(ws[:8])), _norm(" ".join(ws[-25:]))
    preferred = [p for p in voice.preferred_phrases if _contains(norm, p)]
    banned = [p for p in voice.banned_phrases if _contains(norm, p)]
    greeting = next((g for g in voice.greetings if head.startswith(_norm(g))), None)
    sign_off = next((s for s in voice.sign_offs if _contains(tail, s)), None)
    grade = flesch_kincaid_grade(text)
    parts: dict[str, dict[str, Any]] = {
        "phrases": {
            "score": round(max(0.0, min(1.0, len(preferred) / voice.preferred_target)
                               - 0.5 * len(banned)), 4),
            "preferred": preferred,
            "banned": banned,
        },
        "greeting": {"score": 1.0 if greeting else 0.0, "found": greeting},
        "sign_off": {"score": 1.0 if sign_off else 0.0, "found": sign_off},
        "length": {
            "score": round(_band(len(ws), voice.min_words, voice.max_words,
                                 1.0 / voice.min_words, 1.0 / voice.max_words), 4),
            "words": len(ws), "min": voice.min_words, "max": voice.max_words,
        },
        "reading_level": {
            "score": round(_band(grade, voice.min_grade, voice.max_grade, 0.25, 0.25), 4),
            "grade": grade, "min": voice.min_grade, "max": voice.max_grade,
        },
    }
    if similarity is not None:
        span = voice.similarity_ceiling - voice.similarity_floor
        parts["similarity"] = {
            "score": round(float(np.clip((similarity - voice.similarity_floor) / span, 0.0, 1.0)), 4),
            "best": round(float(similarity), 4),
        }
    total = weight = 0.0
    for name, part in parts.items():
        w = voice.weights.get(name, 0.0)
        part["weight"] = w
        total += w * part["score"]
        weight += w
    return ToneResult(round(total / weight, 4) if weight else 0.0, parts)


def best_similarity(vectors: np.ndarray, example_vectors: np.ndarray) -> np.ndarray:
    """Per row of ``vectors`` (normalised), the best cosine similarity to an example row."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.float32)
    if example_vectors is None or len(example_vectors) == 0:
        return np.full(len(vectors), np.nan, dtype=np.float32)
    return (vectors @ example_vectors.T).max(axis=1)


def score_texts(
    texts: list[str],
    voice: BrandVoice,
    vectors: np.ndarray | None = None,
    example_vectors: np.ndarray | None = None,
) -> list[ToneResult]:
    """Score many answers; with ``vectors`` (their embeddings) and ``example_vectors`` (the
    approved examples' embeddings, same embedder) the similarity part is included."""
    sims: list[float | None] = [None] * len(texts)
    if vectors is not None and example_vectors is not None and len(example_vectors):
        sims = [float(s) for s in best_similarity(vectors, example_vectors)]
    return [score_text(t, voice, s) for t, s in zip(texts, sims, strict=True)]
