"""Cleaning phone transcripts for voice training data.

A phone conversation arrives as speech-to-text turns: the same speaker split over several
messages, fillers ("um", "uh", "you know", a filler "like,") and transcription noise
("[inaudible]", "[crosstalk]", "(laughs)"). ``merge_turns`` joins consecutive turns of one
speaker (a human agent speaks as the assistant) and ``clean_spoken`` removes the fillers and
noise, repeated words ("I I want") and the punctuation they leave behind. Placeholders of
scrubbed personal data (``<PERSON>``) are kept.
"""

from __future__ import annotations

import re

_NOISE = re.compile(
    r"\[[^\]<>]{0,40}\]"  # [inaudible], [crosstalk], [noise], [laughter], [00:01:02] ...
    r"|\((?:inaudible|crosstalk|laughs?|laughter|noise|silence|pause|coughs?|unintelligible|"
    r"background noise|static|music)\)",
    re.IGNORECASE,
)
_BACKCHANNEL = re.compile(r"\b(?:mm-hmm|uh-huh|mhm)\b", re.IGNORECASE)
_ELLIPSIS = re.compile(r"\.{2,}|\u2026")
_FILLER_WORDS = re.compile(r"\b(?:u+m+|u+h+m*|e+r+m+|e+r|h+m+|m{2,}|a+h+)\b[,.]?", re.IGNORECASE)
_PHRASES = r"(?:you know|i mean|like|so yeah)"
_FILLER_MID = re.compile(r",\s*" + _PHRASES + r"\s*,", re.IGNORECASE)  # "it's, like, twenty"
_FILLER_START = re.compile(r"(?:(?<=[.!?])|^)\s*" + _PHRASES + r"\s*,\s*", re.IGNORECASE)
_FILLER_END = re.compile(r",\s*(?:you know|i mean)\s*(?=[.!?]|$)", re.IGNORECASE)
# "like," right after a word is a filler, except in "I'd like, ...", "we would like, ..."
_FILLER_LIKE = re.compile(
    r"(?<!would)(?<!'d)(?<!\bi)(?<!\bwe)(?<!\bthey)(?<!\byou)(?<!\bto)(\s+)like\s*,\s*", re.IGNORECASE
)
_STUTTER = re.compile(r"\b(\w+)(?:\s*,?\s+\1\b)+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")
_REPEATED_COMMAS = re.compile(r"(?:,\s*){2,}")
_COMMA_BEFORE_STOP = re.compile(r",\s*([.!?])")
_LEADING_PUNCT = re.compile(r"^[\s,.;:]+")
_SENTENCE_START = re.compile(r"([.!?]\s+)([a-z])")


def clean_spoken(text: str) -> str:
    """A transcript turn without fillers, noise tags and stutters, tidily punctuated."""
    t = _NOISE.sub(" ", text or "")
    t = _BACKCHANNEL.sub("yes", t)
    t = _ELLIPSIS.sub(",", t)
    for _ in range(2):  # a removal can expose another filler ("um, you know, like, ...")
        t = _FILLER_WORDS.sub(" ", t)
        t = _FILLER_MID.sub(" ", t)
        t = _FILLER_START.sub(" ", t)
        t = _FILLER_END.sub("", t)
        t = _FILLER_LIKE.sub(" ", t)
    t = _STUTTER.sub(r"\1", t)
    t = _SPACES.sub(" ", t)
    t = _SPACE_BEFORE_PUNCT.sub(r"\1", t)
    t = _REPEATED_COMMAS.sub(", ", t)
    t = _COMMA_BEFORE_STOP.sub(r"\1", t)
    t = _LEADING_PUNCT.sub("", t).strip().rstrip(",").strip()
    t = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), t)
    if t and t[0].islower():
        t = t[0].upper() + t[1:]
    return t


def speaker(role: str) -> str | None:
    """The chat role a transcript speaker becomes (None: not part of the dialogue)."""
    if role == "user":
        return "user"
    if role in ("assistant", "agent"):
        return "assistant"
    return None


def merge_turns(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive turns of one speaker joined into one (roles mapped with ``speaker``, empty
    turns dropped)."""
    merged: list[tuple[str, str]] = []
    for role, text in turns:
        r = speaker(role)
        text = (text or "").strip()
        if r is None or not text:
            continue
        if merged and merged[-1][0] == r:
            merged[-1] = (r, f"{merged[-1][1]} {text}")
        else:
            merged.append((r, text))
    return merged
