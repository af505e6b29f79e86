"""Hand-off, escalation and apology texts: answers that say a person will help, or that the
assistant cannot, without answering anything. They are never knowledge and never gold data:
the review decisions do not turn them into training examples or KB proposals, ``propose_chunk``
refuses them, the weekly refresh archives any that are proposed, and ``dataset build`` skips
them (``handoff``).

The detector is a small heuristic over sentence features, not a list of texts. Each sentence
(split at ``. ! ? ;`` and line breaks) is one of:

- **deferral**: hands the question on or promises a later reply: a transfer verb about the
  question or the customer ("passed this to", "has been escalated", "transfer you", "loop in",
  "opened a ticket"), a later-contact phrase ("get back to you", "be in touch", "reach out",
  "follow up", "circle back", "look into it", "check with"), or a person word (team, agent,
  colleague, someone, staff ...) with a future marker (will, 'll, shortly, soon);
- **inability**: the assistant says it cannot answer ("I can't help", "I'm not able to",
  "I don't know", "I'm not sure", "outside what I can answer", "I don't have that information");
- **pleasantry**: greeting, thanks, an apology or wait phrase alone ("sorry for the trouble");
- **content**: anything else with at least two content words or a figure.

A deferral or inability sentence that still carries at least ``CONTENT_IN_DEFERRAL`` content
words (after removing the deferral words and delays like "within 24 hours") counts as content
too ("our chef will call you the day before to confirm the address and headcount").

A text is a hand-off when it has a deferral or inability sentence and no content sentence.
Weaker signs (a person word with a future marker, "we'll call you") count as a deferral only
with fewer than ``WEAK_CONTENT`` content words ("the team will bring the grill" answers).
Precision and recall on labelled lists written apart from the development examples
(``bench/data/handoff_heldout*.jsonl``; the clean one: precision 1.00, recall 0.83) are
measured by ``bench/handoff.py`` (``bench/results/handoff.json``) and checked by
``tests/core/knowledge/test_handoff.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTENT_IN_DEFERRAL = 4  # content words that make a deferral sentence an answer as well

_PEOPLE = (
    r"(?:team|teammates?|colleagues?|agents?|humans?|person|people|someone|somebody|staff|specialists?|"
    r"managers?|supervisors?|coordinators?|representatives?|reps?|owner|department|office|member|"
    r"members|experts?|support|customer care|care team)"
)
_SELF = (r"\b(?:i|we|let me|let us|i'll|we'll|i will|we will|i'm going to|we're going to|i need to"
         r"|we need to)\b")
_FUTURE = (r"(?:\bwill\b|'ll\b|\bshortly\b|\bsoon\b|\bgoing to\b|\breview(?:s|ing)?\b"
           r"|\bwho can help\b)")
_DEFERRAL = [
    # handing the question (or the customer) on
    r"\b(?:pass(?:ed|ing)?|forward(?:ed|ing)?|escalat(?:e|ed|ing)|transfer(?:red|ring)?|hand(?:ed|ing)?"
    r"|refer(?:red|ring)?|shar(?:e|ed|ing)|rais(?:e|ed|ing)|flag(?:ged|ging)?|notif(?:y|ied|ying)"
    r"|connect(?:ed|ing)?|rout(?:e|ed|ing)|sen[dt]|assign(?:ed|ing)?|bring(?:ing)? in|alert(?:ed|ing)?)\b"
    r"[^.!?;]{0,40}?\b(?:to|with|along|over|for|in)\b[^.!?;]{0,40}?" + _PEOPLE,
    r"\b(?:has|have|'ve|was|been|is being)\s+(?:been\s+)?(?:passed|forwarded|escalated|transferred|"
    r"handed|referred|shared|raised|flagged|notified|routed|assigned|alerted)\b",
    r"\b(?:escalat(?:e|ed|ing)|forward(?:ed|ing)?)\s+(?:this|that|it|your)\b",
    r"\b(?:transfer|transferring|connect|connecting|pass|passing|put|putting|hand|handing|rout(?:e|ing))"
    r"\s+you\b",
    r"\bget(?:ting)?\s+(?:a\s+|an\s+|one of our\s+)?(?:real\s+|live\s+)?" + _PEOPLE,
    r"\b(?:is|are|now)\s+with\s+(?:our|the|a)\b[^.!?;]{0,20}?" + _PEOPLE,
    r"\b(?:logged|noted|recorded|created|opened|filed)\s+(?:a|an|your|the)\s+"
    r"(?:request|ticket|case|question|issue|report)\b",
    r"\bloop(?:ing)? in\b",
    r"\bopened? (?:a|an|your) (?:ticket|case|request)\b",
    # a later reply
    r"\bget(?:ting)? back to you\b",
    r"\b(?:be|get) in touch\b",
    r"\breach(?:ing)? out\b",
    r"\bfollow(?:ing)?[- ]up\b",
    r"\bcircle back\b",
    # the assistant (or we) will find the answer later
    _SELF + r"[^.!?;]{0,25}?\b(?:look|looking) into\b",
    _SELF + r"[^.!?;]{0,25}?\b(?:check(?:ing)?|confirm(?:ing)?) with\b",
    _SELF + r"[^.!?;]{0,25}?\b(?:ask|asking) (?:a|my|our|the|around)\b",
    _SELF + r"[^.!?;]{0,25}?\bfind out\b",
    r"\b(?:hear|hearing) (?:back )?from (?:us|them|someone)\b",
    r"\b(?:needs|requires) a (?:human|person|member of staff)\b",
    r"\b(?:be|is) with you\b",
    r"\bcontinue this conversation\b",
    r"\btake it from here\b",
]
# weaker signs: a person word with a future marker, "we'll call you": a deferral only with
# fewer than WEAK_CONTENT content words ("the team will bring the grill" answers something)
WEAK_CONTENT = 2
_WEAK = [
    r"\b(?:call|email|e-mail|text|update|contact|message)\s+you\b(?:\s+back)?",
    r"\b(?:reply|respond|answer)\s+(?:later|soon|shortly|by email)\b",
]
_INABILITY = [
    r"\bi(?:'m| am)? (?:can't|cannot|can not|am unable|'m unable|unable|am not able|'m not able|not able)\b",
    r"\b(?:can't|cannot|unable to|not able to) (?:help|assist|answer|do|provide|find|see|access|say|tell)\b",
    r"\bi (?:don't|do not) (?:know|have (?:that|this|the|any|those|enough) "
    r"(?:info|information|details|answer))",
    r"\bi(?:'m| am) (?:not (?:sure|certain)|afraid)\b",
    r"\b(?:outside|beyond) (?:what|the scope)\b",
    r"\bnot something (?:i|we)\b",
    r"\bi (?:don't|do not) have (?:access|the (?:info|information|details|answer))\b",
    r"\bi(?:'m| am) (?:just|only) (?:an?|the) (?:assistant|bot|ai)\b",
]
_PLEASANTRY = [
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b",
    r"\b(?:thanks|thank you)\b",
    r"\b(?:sorry|apologi[sz]e|apologies)\b",
    r"\b(?:good|great) question\b",
    r"^(?:hmm+|ok(?:ay)?|sure|got it|no problem)\b",
    r"\b(?:bear with me|hold on|one moment|please wait|your patience)\b",
    r"\bhave a (?:great|good|nice) (?:day|evening|weekend)\b",
    r"\bhope (?:this|that) helps\b",
]
_DELAY = re.compile(
    r"\b(?:within|in|under|by|after)\s+(?:\d+|one|two|three|a few|a couple of|an?)?\s*"
    r"(?:business |working )?(?:minutes?|hours?|days?|weeks?)\b|\bas soon as possible\b|\basap\b|"
    r"\b(?:today|tomorrow|tonight|later|now|right now|directly|back)\b"
)
_PLACEHOLDER = re.compile(r"<[A-Z_]+>")
_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+|(?<=[.!?])$")
_WORD = re.compile(r"[a-z][a-z'-]+|\$?\d[\d,.:%]*")
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from about as into over than then so
    is are was were be been being am do does did have has had having will would shall should
    can could may might must i me my we us our you your he she it its they them their this that
    these those there here what which who whom whose when where why how all any some no not just
    only also very too more most much many such own same other again once up down out off yes
    let please right now well one ok okay im i'm i've i'll i'd we're we've we'll you're you'll
    it's that's there's who's what's don't can't cannot won't isn't aren't wasn't didn't doesn't
    who'll they'll he'll she'll""".split()
)
# words every support reply uses, whatever it answers
_GENERIC = frozenset(
    """team teammate teammates colleague colleagues agent agents human humans person people
    someone somebody staff specialist specialists manager managers supervisor coordinator
    representative rep owner department office member members expert experts support care
    customer customers question questions request requests message messages query issue
    ticket case information info details detail answer answers help assist assistance reply
    respond response responds replies contact contacted reach touch follow back soon shortly
    later today tomorrow asap possible thanks thank sorry apologies apologize apologise
    inconvenience trouble confusion patience wait waiting hold moment check checking look
    looking review reviewing reviewed find sure certain afraid able unable know hear note
    noted received receive passed forwarded escalated escalate transferred transfer handed hand
    handing referred shared raised flagged notified notify routed connect connected sent send
    chat conversation continue directly right take great good hi hello hey dear there
    appreciate appreciated reaching letting get got going need needs make sees see hope
    helps assistant bot email e-mail call text update updates business working day days hour
    hours minutes within asap along over loop opened open something expect expecting logged
    involved access assigned alerted""".split()
)


@dataclass(frozen=True)
class SentenceKind:
    """One sentence and what it does."""

    text: str
    kind: str  # deferral | inability | pleasantry | content | filler
    content_words: int


def _content_words(sentence: str) -> list[str]:
    s = _DELAY.sub(" ", _PLACEHOLDER.sub(" ", sentence).lower().replace("’", "'"))
    return [w for w in _WORD.findall(s) if w not in _STOP and w not in _GENERIC]


def _match(patterns: list[str], sentence: str) -> re.Match | None:
    return next((m for p in patterns if (m := re.search(p, sentence))), None)


def sentences(text: str) -> list[SentenceKind]:
    """The sentences of ``text`` with their kind (see the module docstring)."""
    out = []
    for raw in _SENTENCES.split(text or ""):
        s = raw.strip()
        if not s:
            continue
        low = s.lower().replace("’", "'")
        words = _content_words(s)
        weak = _match(_WEAK, low) or (re.search(r"\b" + _PEOPLE + r"\b", low) and re.search(_FUTURE, low))
        if _match(_DEFERRAL, low) or _match(_INABILITY, low):
            kind = "deferral" if _match(_DEFERRAL, low) else "inability"
            if len(words) >= CONTENT_IN_DEFERRAL:
                kind = "content"
        elif weak:
            kind = "deferral" if len(words) < WEAK_CONTENT else "content"
        elif _match(_PLEASANTRY, low) and len(words) < 3:
            kind = "pleasantry"
        elif words:
            kind = "content"
        else:
            kind = "filler"
        out.append(SentenceKind(s, kind, len(words)))
    return out


def handoff_reason(text: str) -> str | None:
    """Why ``text`` is a hand-off, escalation or apology without an answer (a sentence in
    plain words), or None when it answers something."""
    kinds = sentences(text)
    if not kinds or any(k.kind == "content" for k in kinds):
        return None
    said = next((k for k in kinds if k.kind in ("deferral", "inability")), None)
    if said is None:
        return None
    what = "hands the question to a person" if said.kind == "deferral" else "says it cannot answer"
    return f"reads as a hand-off: it {what} (\u201c{said.text[:80]}\u201d) and answers nothing"


PERSON = "<PERSON>"  # the scrubber's placeholder for a name


def agent_reply_left_out(text: str) -> str | None:
    """Why an agent's (redacted) reply is no general knowledge, or None when it may be: a
    hand-off or apology text, or a reply addressed to a named person ("Hi <PERSON>, I've refunded
    your card": written for one customer). ``core.learning.agent_answers`` leaves these out and
    the review queue keeps their conversations."""
    if handoff_reason(text) is not None:
        return "a hand-off or apology text"
    if PERSON in text:
        return "addressed to a person"
    return None


def is_handoff(text: str) -> bool:
    """Whether ``text`` is a hand-off, escalation or apology that answers nothing."""
    return handoff_reason(text) is not None
