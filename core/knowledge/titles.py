"""Clean titles for proposed chunks: the customer's question without greetings, names, contact
details, placeholders of redacted personal data or sign-offs.

``clean_title("Hi there, this is <PERSON>, my number is <PHONE_NUMBER>. How much is the travel
fee to Irvine? Thanks!")`` is ``"How much is the travel fee to Irvine?"``. The text is split
into sentences (and each sentence into comma clauses); greeting, thanks, self-introduction
and contact parts are dropped, the rest is kept (only its questions when it is longer than
``MAX_TITLE_CHARS``), leftover placeholders and greeting words are removed, and the result is
cut at a word boundary to ``MAX_TITLE_CHARS``. The reviewer can change it (``supportloop kb title``,
the dashboard's Knowledge page).
"""

from __future__ import annotations

import re

MAX_TITLE_CHARS = 120

_PLACEHOLDER = re.compile(r"<[A-Z_]+>")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE = re.compile(r",\s*|\s+-\s+")
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|dear|greetings|good (?:morning|afternoon|evening)|yo)\b"
    r"(?:\s+(?:there|all|team|folks|guys|everyone|again))?[\s,!.:;-]*",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"^(?:many\s+)?(?:thanks|thank you|thx|ty|cheers|regards|best|sincerely|appreciate it)\b", re.IGNORECASE
)
_INTRO = re.compile(
    r"\b(?i:this is|my name is|my name's|i am|i'm|it's|its)\s+(?:<PERSON>|[A-Z][a-z]+\b)(?:\s+[A-Z][a-z]+\b)?"
    r"(?:\s+(?i:here|from|with)\b(?:\s+<[A-Z_]+>)?)?[\s,.!]*(?i:and\s+)?"
    r"|^\s*<PERSON>\s*(?i:here)?[\s.!,]*$",
)
_CONTACT = re.compile(
    r"\b(?:my (?:number|phone|cell|mobile|email|e-mail|address)|call me|text me|email me|e-mail me|"
    r"reach me|contact me|you can reach|at this number)\b"
    r"|<(?:PHONE_NUMBER|EMAIL_ADDRESS|URL|ADDRESS|STREET_ADDRESS|US_SSN|CREDIT_CARD|IBAN_CODE)>",
    re.IGNORECASE,
)


def _drop(part: str) -> bool:
    """Whether a sentence or clause is only a greeting, thanks, name or contact detail."""
    bare = _GREETING.sub("", part.strip())
    if not _PLACEHOLDER.sub("", bare).strip(" ,.!?;:-"):
        return True  # only a greeting (or a name)
    return bool(_THANKS.match(bare) or _CONTACT.search(part))


def _clauses(sentence: str) -> str:
    """A sentence without its greeting, introduction and contact clauses."""
    kept = [_INTRO.sub("", c).strip() for c in _CLAUSE.split(sentence) if not _drop(c)]
    return ", ".join(c for c in kept if c and not _drop(c))


# placeholders that stand for what the question is about keep a neutral word
_NEUTRAL = {"<LOCATION>": "your area", "<DATE_TIME>": "your date", "<GPE>": "your area"}


def _tidy(text: str) -> str:
    for placeholder, word in _NEUTRAL.items():
        text = text.replace(placeholder, word)
    text = _PLACEHOLDER.sub("", text)
    text = _GREETING.sub("", text.strip())
    text = re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r"\s{2,}", " ", text)).strip(" ,;:-")
    text = re.sub(r"^(?:and|so|but|also|um+|uh+|well|ok(?:ay)?)\b[\s,]*", "", text, flags=re.IGNORECASE)
    return text[:1].upper() + text[1:] if text else ""


def clean_title(question: str, max_chars: int = MAX_TITLE_CHARS) -> str:
    """The title of a proposal from the customer's (redacted) question; "" when nothing is left."""
    parts = [_clauses(s) for s in _SENTENCE.split(question or "") if s.strip()]
    parts = [p for p in parts if p and not _drop(p)]
    title = _tidy(" ".join(parts))
    asked = [p for p in parts if p.rstrip().endswith("?")]
    if len(title) > max_chars and asked:  # too long: the questions say what it is about
        title = _tidy(" ".join(asked))
    if len(title) > max_chars:
        cut = title[: max_chars - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
        title = cut + "\u2026"
    return title
