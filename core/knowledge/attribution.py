"""Which proposals cost a rejected KB candidate its evaluation questions, and what happens to them.

When the gate rejects a candidate (``core.knowledge.evaluation.gate``), the refresh looks at
the questions it lost (the active version served them, the candidate did not) and at the
chunk the candidate put first for each: a proposal of this refresh that took a question it
lost is charged one question, and credited one for each question it won. Proposals with a net
cost are the *culprits* (the most costly first). The refresh then builds the candidate again
without them and gates it once more (``core.knowledge.refresh``).

A culprit stays ``proposed`` (in the review queue of proposals) with the reason in its
metadata (``gate``: the version, the questions lost, the reason in words, and the content
hash it was blamed for). Later refreshes leave a blamed proposal out while its title and text
are unchanged: edit it (a new content hash), or reject / archive it
(``supportloop kb reject|archive ID``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from core.knowledge.evaluation import question_scores
from core.platform.clock import Clock, SystemClock
from core.platform.models import Chunk

MAX_EXAMPLES = 3  # lost questions quoted per culprit


@dataclass
class Blame:
    """A proposal charged with questions the candidate lost."""

    chunk_id: int
    title: str
    questions_lost: int
    questions_won: int
    lost_question_ids: list[int] = field(default_factory=list)
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def attribute(candidate: dict, active: dict, proposals: dict[int, str]) -> list[Blame]:
    """The proposals (``{chunk id: title}``) with a net cost in questions, the most costly
    first: each question the candidate lost (``core.knowledge.evaluation.question_scores``) is
    charged to the first proposal among the chunks the candidate put first for it; each won
    question is credited the same way."""
    c_scores, a_scores = question_scores(candidate), question_scores(active)
    cq = candidate.get("per_question") or {}
    top = dict(zip(cq.get("question_ids") or [], cq.get("top_chunk_ids") or [], strict=False))
    charged: Counter[int] = Counter()
    credited: Counter[int] = Counter()
    examples: dict[int, list[int]] = {}
    for qid in sorted(q for q in c_scores if q in a_scores and c_scores[q] != a_scores[q]):
        culprit = next((c for c in top.get(qid) or [] if c in proposals), None)
        if culprit is None:
            continue
        if c_scores[qid] < a_scores[qid]:
            charged[culprit] += 1
            examples.setdefault(culprit, []).append(qid)
        else:
            credited[culprit] += 1
    blames = [
        Blame(cid, proposals[cid], charged[cid], credited[cid], examples.get(cid, []))
        for cid in charged
        if charged[cid] > credited[cid]
    ]
    blames.sort(key=lambda b: (-(b.questions_lost - b.questions_won), b.chunk_id))
    return blames


def explain(blame: Blame, version_id: int, questions: dict[int, str]) -> str:
    """The reason in plain words, quoting up to ``MAX_EXAMPLES`` lost questions."""
    quoted = "; ".join(f"\u201c{questions[q][:80]}\u201d" for q in blame.lost_question_ids[:MAX_EXAMPLES]
                       if q in questions)
    won = f" and helped {blame.questions_won}" if blame.questions_won else ""
    return (
        f"KB candidate {version_id} was rejected: this proposal answered {blame.questions_lost} "
        f"evaluation question(s) the active version served correctly{won}"
        + (f" (e.g. {quoted})" if quoted else "")
        + "; edit it so it answers only its own question, or reject it"
    )


def mark_blamed(
    session: Session, blames: list[Blame], version_id: int, questions: dict[int, str],
    clock: Clock | None = None,
) -> None:
    """Keep each culprit proposed, with the reason in its metadata (``gate``)."""
    now = (clock or SystemClock()).now()
    for b in blames:
        chunk = session.get(Chunk, b.chunk_id)
        b.reason = explain(b, version_id, questions)
        chunk.chunk_metadata = {
            **(chunk.chunk_metadata or {}),
            "gate": {
                "version_id": version_id,
                "questions_lost": b.questions_lost,
                "questions_won": b.questions_won,
                "lost_question_ids": b.lost_question_ids[:20],
                "reason": b.reason,
                "content_hash": chunk.content_hash,
                "at": now.isoformat(),
            },
        }
    session.flush()


def gate_reason(chunk: Chunk) -> str | None:
    """Why the gate blamed this proposal, while its title and text are the ones it blamed."""
    gate = (chunk.chunk_metadata or {}).get("gate") or {}
    if gate.get("content_hash") and gate.get("content_hash") == chunk.content_hash:
        return gate.get("reason") or "blamed by the KB gate"
    return None


def hold_blamed(proposals: list[Chunk]) -> tuple[list[Chunk], list[Chunk]]:
    """Split proposals into those that may join a refresh and those still blamed by the gate."""
    held = [c for c in proposals if gate_reason(c)]
    return [c for c in proposals if not gate_reason(c)], held
