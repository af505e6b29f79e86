"""The evaluation set and the gate that decides whether a candidate KB version may go live.

Each evaluation question names what should serve it: a chunk (``expected_chunk_id`` or
``expected_external_id``), or only an expected answer (a retrieved chunk whose text is at
least ``kb_answer_match_similarity`` similar to it counts), or only an ``intent`` (any chunk
of that category counts: for knowledge bases of many answered questions per topic), or
``should_escalate`` for a question the KB must not answer (out of scope).

Metrics (over the active questions):

- hit@1, hit@5, MRR: over in-scope questions, from the ranks of the first correct chunk in
  the top 5 (a question whose chunk is missing from the version is a miss); for a question
  served by its intent, from the rank of that intent among the distinct categories of the
  retrieved chunks (within the first 5);
- escalation rate: share of in-scope questions whose confidence is below the threshold;
- answered accuracy: of the questions answered (not escalated), the share answered from a
  correct chunk (the chunk ``core.knowledge.confidence.decide`` picks, as the responder does); an
  out-of-scope question that was answered counts as wrong.

Per question the report keeps (``per_question``) whether it was **served** (in scope: answered
from a correct chunk; out of scope: escalated), whether its first chunk was right (hit@1) and
the ids of the chunks it got first (the answering chunk, then the next best).

The gate (:func:`gate`): the candidate is compared with the active version question by
question. Each question scores 0-2 points: 1 for the right chunk first (hit@1) and 1 for being
served correctly (answered from a right chunk; an out-of-scope question escalated is worth 2).
A question *lost* scores lower in the candidate, a question *won* higher. The candidate is
worse only when the losses outnumber the wins beyond chance: a one-sided exact sign test (the
exact McNemar test) on the lost and won questions with p below ``kb_gate_alpha`` (0.05), and a
net loss of more than ``kb_gate_tolerance`` of the questions. One question in a hundred is
never enough: at alpha 0.05 it takes at least 5 losses without a win (7 against 1, 9 against
2, ...). A stored active report without per-question outcomes falls back to the aggregate
comparison (:func:`compare`): every higher-is-better metric at least the active one's minus
``kb_gate_tolerance``, the escalation rate at most the active one's plus it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.knowledge.calibration import decision_settings
from core.knowledge.confidence import decide, escalates
from core.knowledge.index import KBIndex
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import ImportFailed, ImportProblem, NotFound, ValidationError
from core.platform.models import Chunk, EvaluationQuestion
from core.platform.services import Embedder

HIGHER_IS_BETTER = ("hit_at_1", "hit_at_5", "mrr", "answered_accuracy")
LOWER_IS_BETTER = ("escalation_rate",)
TOP_K = 5


def add_question(
    session: Session,
    question: str,
    *,
    actor: Actor,
    expected_chunk_id: int | None = None,
    expected_external_id: str | None = None,
    expected_answer: str | None = None,
    should_escalate: bool = False,
    intent: str | None = None,
    source: str = "manual",
    source_message_id: int | None = None,
    clock: Clock | None = None,
) -> EvaluationQuestion:
    """Add one evaluation question (``manage_kb``); approved Q&A pairs join this way, with
    ``expected_answer`` and ``source='review'``."""
    require(actor, "manage_kb")
    question = (question or "").strip()
    if not question:
        raise ValidationError("An evaluation question needs the question text.")
    if not (
        expected_chunk_id
        or expected_external_id
        or (expected_answer or "").strip()
        or should_escalate
        or (intent or "").strip()
    ):
        raise ValidationError(
            "An evaluation question needs what should serve it: expected_external_id, "
            "expected_chunk_id, expected_answer, an intent (any chunk of that category), or "
            "should_escalate=true."
        )
    if expected_chunk_id is not None and session.get(Chunk, expected_chunk_id) is None:
        raise NotFound(f"Chunk {expected_chunk_id} does not exist.")
    row = EvaluationQuestion(
        question=question,
        expected_chunk_id=expected_chunk_id,
        expected_external_id=expected_external_id,
        expected_answer=expected_answer,
        should_escalate=should_escalate,
        intent=intent,
        source=source,
        source_message_id=source_message_id,
        created_by=actor.name,
        created_at=(clock or SystemClock()).now(),
    )
    session.add(row)
    session.flush()
    return row


def active_questions(session: Session) -> list[EvaluationQuestion]:
    q = select(EvaluationQuestion).where(EvaluationQuestion.active.is_(True)).order_by(EvaluationQuestion.id)
    return list(session.scalars(q))


def parse_question_line(obj: dict) -> dict:
    """Normalise one JSONL evaluation record (accepts ``expected_external_id`` or
    ``chunk_external_id``/``external_id`` for the chunk, ``answer`` for the answer)."""
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    q = obj.get("question")
    if not isinstance(q, str) or not q.strip():
        raise ValueError("question: required text")
    ext = obj.get("expected_external_id") or obj.get("chunk_external_id") or obj.get("external_id")
    return {
        "question": q.strip(),
        "expected_external_id": str(ext) if ext else None,
        "expected_answer": obj.get("expected_answer") or obj.get("answer"),
        "should_escalate": bool(obj.get("should_escalate", False)),
        "intent": obj.get("intent") or obj.get("category"),
    }


def import_questions(
    session: Session,
    records: Sequence[dict],
    *,
    actor: Actor,
    source: str = "manual",
    file: str = "<records>",
    clock: Clock | None = None,
) -> int:
    """Add evaluation questions from JSON records (all or nothing; ``manage_kb``)."""
    require(actor, "manage_kb")
    parsed, problems = [], []
    for i, obj in enumerate(records, start=1):
        try:
            parsed.append(parse_question_line(obj))
        except ValueError as exc:
            problems.append(ImportProblem(file, i, None, str(exc)))
    if problems:
        raise ImportFailed(problems)
    for p in parsed:
        add_question(session, p.pop("question"), actor=actor, source=source, clock=clock, **p)
    return len(parsed)


def read_jsonl(path: Path) -> list[dict]:
    """JSON objects of a JSONL file (blank lines skipped); bad JSON is an ImportFailed."""
    out, problems = [], []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                problems.append(ImportProblem(str(path), n, None, f"invalid JSON: {exc.msg}"))
    if problems:
        raise ImportFailed(problems)
    return out


def _relevant_positions(index: KBIndex, q: EvaluationQuestion, answer_hits: set[int] | None) -> set[int]:
    rel = set()
    for pos, row in enumerate(index.rows):
        if q.expected_chunk_id is not None and row.chunk_id == q.expected_chunk_id:
            rel.add(pos)
        elif q.expected_external_id and row.external_id == q.expected_external_id:
            rel.add(pos)
    if answer_hits:
        rel |= answer_hits
    if _by_intent(q):
        rel |= {pos for pos, row in enumerate(index.rows) if row.category == q.intent.strip().lower()}
    return rel


def _category_rank(index: KBIndex, positions, intent: str) -> int | None:
    """Rank of ``intent`` among the distinct categories of the retrieved chunks (1 = the best
    chunk's), within the first TOP_K categories: more chunks of one topic never push another
    topic down, so adding answered questions to a KB cannot lower hit@5 by itself."""
    seen: list[str] = []
    for p in positions:
        if p < 0:
            continue
        cat = index.rows[int(p)].category
        if cat not in seen:
            seen.append(cat)
            if cat == intent:
                return len(seen)
            if len(seen) >= TOP_K:
                return None
    return None


def _by_intent(q: EvaluationQuestion) -> bool:
    """A question served by any chunk of its intent (it names no chunk and no answer)."""
    return bool(
        (q.intent or "").strip()
        and q.expected_chunk_id is None
        and not q.expected_external_id
        and not (q.expected_answer or "").strip()
    )


def evaluate(index: KBIndex, questions: Sequence[EvaluationQuestion], embedder: Embedder, settings) -> dict:
    """Score one loaded KB version on the questions. Returns the metrics report (a dict)."""
    index.check_model(embedder.model_id)
    report: dict = {
        "version_id": index.version_id,
        "model_id": index.model_id,
        "chunks": len(index),
        "questions": len(questions),
    }
    if not questions:
        report.update({m: None for m in HIGHER_IS_BETTER + LOWER_IS_BETTER})
        report.update({"in_scope": 0, "out_of_scope": 0, "misses": []})
        return report
    qvecs = embedder.encode([q.question for q in questions])
    k = max(TOP_K, settings.kb_search_k)
    scores, positions = index.search_vectors(qvecs, k)
    answer_qs = [
        i
        for i, q in enumerate(questions)
        if q.expected_answer and not q.expected_chunk_id and not q.expected_external_id
    ]
    answer_hits: dict[int, set[int]] = {}
    if answer_qs:
        avecs = embedder.encode([questions[i].expected_answer for i in answer_qs])
        a_scores, a_pos = index.search_vectors(avecs, 10)
        for i, srow, prow in zip(answer_qs, a_scores, a_pos, strict=True):
            answer_hits[i] = {
                int(p)
                for s, p in zip(srow, prow, strict=False)
                if p >= 0 and s >= settings.kb_answer_match_similarity
            }
    in_scope = hit1 = hit5 = escalated = answered = answered_right = oos = oos_escalated = 0
    rr_sum = 0.0
    misses = []
    per_q: dict[str, list] = {"question_ids": [], "hit_at_1": [], "served": [], "top_chunk_ids": []}
    decided_with = decision_settings(settings, index.calibration)
    for i, q in enumerate(questions):
        hits = index.hits(scores[i], positions[i])
        decision = decide(hits[: settings.kb_search_k], decided_with)
        esc = escalates(decision.confidence, decided_with)
        per_q["question_ids"].append(q.id)
        top = [h.chunk_id for h in hits[:TOP_K]]
        if not esc and decision.position is not None:  # the chunk that answers comes first
            served = hits[decision.position].chunk_id
            top = [served] + [c for c in top if c != served]
        per_q["top_chunk_ids"].append(top[:3])
        if q.should_escalate:
            oos += 1
            oos_escalated += esc
            answered += not esc
            per_q["hit_at_1"].append(None)
            per_q["served"].append(int(esc))
            continue
        in_scope += 1
        rel = _relevant_positions(index, q, answer_hits.get(i))
        if _by_intent(q):
            rank = _category_rank(index, positions[i], q.intent.strip().lower())
        else:
            rank = next((r + 1 for r, p in enumerate(positions[i][:TOP_K]) if int(p) in rel), None)
        hit1 += rank == 1
        hit5 += rank is not None
        rr_sum += 1.0 / rank if rank else 0.0
        escalated += esc
        right = False
        if not esc:
            answered += 1
            right = int(positions[i][decision.position]) in rel
            answered_right += right
        per_q["hit_at_1"].append(int(rank == 1))
        per_q["served"].append(int(right))
        if rank != 1 and len(misses) < 25:
            misses.append(
                {
                    "question_id": q.id,
                    "question": q.question[:120],
                    "expected": q.expected_external_id or q.expected_chunk_id,
                    "got": hits[0].label if hits else None,
                    "rank": rank,
                }
            )
    div = max(in_scope, 1)
    report.update(
        {
            "in_scope": in_scope,
            "out_of_scope": oos,
            "hit_at_1": round(hit1 / div, 4),
            "hit_at_5": round(hit5 / div, 4),
            "mrr": round(rr_sum / div, 4),
            "escalation_rate": round(escalated / div, 4),
            "answered_accuracy": round(answered_right / answered, 4) if answered else 0.0,
            "out_of_scope_escalated": round(oos_escalated / oos, 4) if oos else None,
            "misses": misses,
            "per_question": per_q,
        }
    )
    return report


def _sign_test_p(losses: int, wins: int) -> float:
    """One-sided exact sign test (exact McNemar) on the discordant questions: the probability
    of at least ``losses`` losses among ``losses + wins`` if both versions were equally good."""
    n = losses + wins
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(losses, n + 1)) / 2**n


def question_scores(report: dict) -> dict[int, int]:
    """Per question id its score in a report: 1 point for the right chunk first (hit@1) and 1
    for being served correctly (answered from a right chunk; out of scope: escalated, worth 2)."""
    pq = report.get("per_question") or {}
    out = {}
    for qid, hit1, served in zip(pq.get("question_ids") or [], pq.get("hit_at_1") or [],
                                 pq.get("served") or [], strict=False):
        out[qid] = 2 * served if hit1 is None else hit1 + served
    return out


def paired_test(candidate: dict, active: dict, alpha: float, tolerance: float = 0.0) -> dict:
    """The gate's paired test of the candidate against the active version on the questions both
    reports scored (matched by question id, :func:`question_scores`): ``losses`` (questions
    that score lower in the candidate), ``wins`` (higher), the one-sided exact p-value and
    ``worse``: the losses outnumber the wins with p below ``alpha`` and the net loss is more
    than ``tolerance`` of the questions. ``lost`` lists the question ids lost."""
    c_scores, a_scores = question_scores(candidate), question_scores(active)
    both = [q for q in c_scores if q in a_scores]
    lost = [q for q in both if c_scores[q] < a_scores[q]]
    wins = sum(c_scores[q] > a_scores[q] for q in both)
    p = _sign_test_p(len(lost), wins)
    worse = len(lost) > wins and p < alpha and (len(lost) - wins) > tolerance * len(both)
    return {"questions": len(both), "losses": len(lost), "wins": wins, "p_value": round(p, 6),
            "alpha": alpha, "worse": worse, "lost": lost}


def gate(
    candidate: dict, active: dict | None, alpha: float, tolerance: float
) -> tuple[bool, list[str], list[dict]]:
    """The gate's rule: whether the candidate may replace the active version, the reasons if
    not, and the paired tests. With per-question outcomes in both reports the paired test
    decides (:func:`paired_test`); otherwise (an active report from before per-question
    outcomes were kept) the aggregate comparison with ``tolerance`` (:func:`compare`)."""
    if not active or active.get("hit_at_1") is None or candidate.get("hit_at_1") is None:
        return True, [], []
    if not (candidate.get("per_question") and active.get("per_question")):
        ok, worse = compare(candidate, active, tolerance)
        return ok, worse, []
    t = paired_test(candidate, active, alpha, tolerance)
    worse = [] if not t["worse"] else [
        f"{t['losses']} of {t['questions']} evaluation questions got worse and {t['wins']} better "
        f"(exact sign test p = {t['p_value']:.4f} < {t['alpha']})"
    ]
    return not worse, worse, [t]


def compare(candidate: dict, active: dict | None, tolerance: float) -> tuple[bool, list[str]]:
    """Whether the candidate is not worse than the active report; the reasons if it is."""
    if not active or active.get("hit_at_1") is None or candidate.get("hit_at_1") is None:
        return True, []
    worse = []
    for m in HIGHER_IS_BETTER:
        c, a = candidate.get(m), active.get(m)
        if c is not None and a is not None and round(c, 6) < round(a - tolerance, 6):
            worse.append(f"{m} {c:.3f} < active {a:.3f}")
    for m in LOWER_IS_BETTER:
        c, a = candidate.get(m), active.get(m)
        if c is not None and a is not None and round(c, 6) > round(a + tolerance, 6):
            worse.append(f"{m} {c:.3f} > active {a:.3f}")
    return not worse, worse


def summary(report: dict | None) -> str:
    """One line of the headline metrics."""
    if not report or report.get("hit_at_1") is None:
        return "not evaluated (no evaluation questions)"
    return (
        f"hit@1 {report['hit_at_1']:.3f}  hit@5 {report['hit_at_5']:.3f}  MRR {report['mrr']:.3f}  "
        f"escalation {report['escalation_rate']:.3f}  answered accuracy {report['answered_accuracy']:.3f}"
        f"  ({report['questions']} questions)"
    )
