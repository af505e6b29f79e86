"""The responder: answer a customer question from the active KB version.

``answer`` retrieves the ``kb_search_k`` closest chunks, lets ``core.knowledge.confidence.decide``
pick the answering chunk and the confidence (``kb_confidence_method``: the best chunk, or the
best chunk of the category most retrieved chunks vote for) and then

- escalates to a human below ``kb_escalation_threshold`` (a hand-off message, no chunk used);
- otherwise answers extractively from the answering chunk (the default, no API key needed:
  the chunk's sentences that best match the question, up to ``kb_answer_max_chars``);
- or, when ``openai_base_url`` is set, asks an OpenAI-compatible chat model with an
  intent-specific system prompt and the top ``chat_context_chunks`` chunks (the answering
  chunk first) as context. If the model call fails, the extractive answer is given and
  ``Answer.error`` says why.

``answer_batch`` decides many questions at once (one embedding call, one index search) the
way ``answer`` would, without storing anything: for evaluations. ``answer_many`` answers a
long list in such batches, chat model included (``supportloop ask --file``).

Retrieval ranks with the chunks' performance prior (``core.knowledge.index.ranked_hits``,
``core.knowledge.scoring.retrieval_priors``): a chunk customers keep voting down scores lower
and weighs less in the decision; ``retrieved`` and the stored ``message_chunk.score`` carry the
moved scores.

``record_answer`` stores the answer as an assistant message with its KB version, one
``message_chunk`` row per retrieved chunk (rank, score, used) and updates the chunks'
``times_retrieved`` / ``times_used_in_response``.

The loaded index is held by a process cache (``core.knowledge.index.DEFAULT_CACHE`` unless one is
passed) that notices a newly activated version and reloads without a restart. Searching the
active version without answering is ``core.knowledge.index.search``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.conversations import lifecycle, outcomes
from core.enrichment import enrich
from core.knowledge import scoring
from core.knowledge.calibration import decision_settings
from core.knowledge.confidence import decide, escalates
from core.knowledge.index import DEFAULT_CACHE, IndexCache, KBIndex, SearchHit, ranked_hits
from core.platform import events
from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Chunk, Conversation, Message, MessageChunk
from core.platform.services import Embedder, Enricher, Scrubber
from core.platform.statuses import ConversationStatus, MessageRole

EXTRACTIVE_MODEL = "extractive"
ESCALATION_TEXT = (
    "Thanks for your question! I want to make sure you get the right answer, so I've "
    "passed it to our team and someone will get back to you shortly."
)

SYSTEM_BASE = (
    "You are the customer-support assistant of a hibachi catering business. Answer only from the "
    "knowledge snippets given; if they do not answer the question, say you will pass it to the team. "
    "Be brief, warm and concrete (two to four sentences), never invent prices, dates or policies."
)
INTENT_PROMPTS = {
    "pricing": "The customer asks about prices. Quote the exact amounts from the snippets and say what "
    "is included; mention minimums or extra fees only when the snippets do.",
    "menu": "The customer asks about the menu. Name the dishes and options from the snippets.",
    "dietary": "The customer asks about allergies or diets. Be careful and precise; never promise more "
    "than the snippets say, and suggest confirming details with the team when unsure.",
    "travel": "The customer asks about travel or service area. Give the fee or distance rule from the "
    "snippets and what the customer should tell us to get an exact quote.",
    "booking": "The customer wants to book or change a booking. Explain the steps from the snippets and "
    "invite them to share date, guest count and address.",
    "logistics": "The customer asks how the event works on the day. Explain setup, space and timing "
    "from the snippets.",
    "policy": "The customer asks about a policy (deposit, cancellation, weather, tips). State the rule "
    "exactly as the snippets do.",
}


@dataclass
class Answer:
    """An answer (or hand-off) to one question, with what it was built from."""

    text: str
    confidence: float
    escalated: bool
    retrieved: list[tuple[int, str | None, float]]
    used_chunk_ids: list[int]
    kb_version_id: int | None
    model_used: str
    latency_ms: float
    intent: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    error: str | None = None
    hits: list[SearchHit] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        """JSON-ready (``ask`` prints this): chunks by external id when they have one."""
        d = asdict(self)
        d.pop("hits")
        d["retrieved"] = [
            {"chunk_id": c, "external_id": e, "score": round(s, 4)} for c, e, s in self.retrieved
        ]
        return d


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9$]+")
_STOP = frozenset(
    "a an and are as at be can do does for from have how i in is it my of on or our "
    "the to we what when where which who will with you your".split()
)


def extract_answer(question: str, text: str, max_chars: int) -> str:
    """The chunk text, or when longer than ``max_chars`` its sentences sharing the most
    words with the question (kept in their original order)."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    qwords = set(_WORD.findall(question.lower())) - _STOP
    scored = sorted(
        range(len(sentences)), key=lambda i: (-len(qwords & set(_WORD.findall(sentences[i].lower()))), i)
    )
    keep, total = [], 0
    for i in scored:
        if total + len(sentences[i]) + 1 > max_chars and keep:
            continue
        keep.append(i)
        total += len(sentences[i]) + 1
    out = " ".join(sentences[i] for i in sorted(keep))
    return out if len(out) <= max_chars else out[: max_chars - 1].rstrip() + "…"


def system_prompt(intent: str | None) -> str:
    """The system prompt for an intent (a KB category); unknown intents get the base prompt."""
    extra = INTENT_PROMPTS.get((intent or "").lower())
    return SYSTEM_BASE + (" " + extra if extra else "")


_CLIENTS: dict[tuple, object] = {}
_CLIENT_LOCK = threading.Lock()


def _chat_client(settings):
    from openai import OpenAI  # optional provider SDK, loaded only when a chat model is configured

    key = (settings.openai_base_url, settings.openai_api_key, settings.chat_timeout_s)
    with _CLIENT_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = OpenAI(
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key or "none",
                timeout=settings.chat_timeout_s,
                max_retries=1,
            )
        return _CLIENTS[key]


def chat_answer(
    question: str, hits: list[SearchHit], intent: str | None, settings
) -> tuple[str, int | None, int | None]:
    """Ask the configured chat model. Returns (text, prompt tokens, completion tokens)."""
    context = "\n".join(
        f"[{i}] {h.title}: {h.text}" if h.title else f"[{i}] {h.text}" for i, h in enumerate(hits, start=1)
    )
    resp = _chat_client(settings).chat.completions.create(
        model=settings.chat_model,
        temperature=0.2,
        max_tokens=400,
        messages=[
            {"role": "system", "content": system_prompt(intent)},
            {"role": "user", "content": f"Knowledge snippets:\n{context}\n\nCustomer question: {question}"},
        ],
    )
    text = (resp.choices[0].message.content or "").strip()
    if not text:
        raise ValueError("the chat model returned an empty answer")
    usage = getattr(resp, "usage", None)
    return text, getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)


def answer(
    session: Session,
    question: str,
    *,
    embedder: Embedder,
    settings,
    index_cache: IndexCache | None = None,
    clock: Clock | None = None,
    intent: str | None = None,
) -> Answer:
    """Answer one customer question from the active KB version (see the module docstring)."""
    started = time.perf_counter()
    if not question or not question.strip():
        raise ValidationError("The question is empty.")
    question = question.strip()
    idx = (index_cache or DEFAULT_CACHE).active(session, settings)
    hits = ranked_hits(session, [idx.search(embedder, question, settings.kb_search_k)], settings)[0]
    result = _decided_answer(question, hits, idx, settings, intent)
    _chat_if_configured(question, result, settings)
    result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return result


def _chat_if_configured(question: str, result: Answer, settings) -> None:
    """Replace an extractive answer by the chat model's when one is configured (the
    extractive answer stays, with ``error`` set, when the model call fails)."""
    if result.escalated or not settings.openai_base_url:
        return
    context = _context(result.hits, result.used_chunk_ids[0], settings.chat_context_chunks)
    try:
        text, result.tokens_in, result.tokens_out = chat_answer(question, context, result.intent, settings)
        result.text = text
        result.model_used = settings.chat_model
        result.used_chunk_ids = [h.chunk_id for h in context]
    except Exception as exc:  # noqa: BLE001 - any provider failure falls back to extractive
        result.error = f"chat model failed, answered extractively: {type(exc).__name__}: {exc}"[:500]


def _context(hits: list[SearchHit], answering_id: int, n: int) -> list[SearchHit]:
    """The chat model's context: the answering chunk first, then the other best hits."""
    first = [h for h in hits if h.chunk_id == answering_id][:1]
    return (first + [h for h in hits if h.chunk_id != answering_id])[:n]


def _decided_answer(
    question: str, hits: list[SearchHit], idx: KBIndex, settings, intent: str | None
) -> Answer:
    """The extractive answer (or hand-off) that ``core.knowledge.confidence.decide`` picks from
    hits, with the score calibration of the version searched (``core.knowledge.calibration``)."""
    settings = decision_settings(settings, idx.calibration)
    d = decide(hits, settings)
    result = Answer(
        text=ESCALATION_TEXT,
        confidence=d.confidence,
        escalated=True,
        retrieved=[(h.chunk_id, h.external_id, h.score) for h in hits],
        used_chunk_ids=[],
        kb_version_id=idx.version_id,
        model_used=EXTRACTIVE_MODEL,
        latency_ms=0.0,
        intent=intent or d.category,
        hits=hits,
    )
    if d.hit is not None and not escalates(d.confidence, settings):
        result.escalated = False
        result.text = extract_answer(question, d.hit.text, settings.kb_answer_max_chars)
        result.used_chunk_ids = [d.hit.chunk_id]
    return result


def answer_batch(
    session: Session,
    questions: list[str],
    *,
    embedder: Embedder,
    settings,
    index_cache: IndexCache | None = None,
    chat: bool = False,
) -> list[Answer]:
    """Extractive answers (or hand-offs) to many questions from the active KB version, with
    one embedding call, one index search and one query of the chunks' priors: what ``answer``
    would decide for each, without storing anything (for evaluations and benchmarks). With
    ``chat`` a configured chat model words each answered question as ``answer`` does.
    ``latency_ms`` is the batch's time per question."""
    if any(not q or not q.strip() for q in questions):
        raise ValidationError("A question in the batch is empty.")
    if not questions:
        return []
    started = time.perf_counter()
    idx = (index_cache or DEFAULT_CACHE).active(session, settings)
    idx.check_model(embedder.model_id)
    clean = [q.strip() for q in questions]
    scores, positions = idx.search_vectors(embedder.encode(clean), settings.kb_search_k)
    hits = ranked_hits(session, [idx.hits(scores[i], positions[i]) for i in range(len(clean))], settings)
    out = [_decided_answer(q, h, idx, settings, None) for q, h in zip(clean, hits, strict=True)]
    if chat:
        for q, a in zip(clean, out, strict=True):
            _chat_if_configured(q, a, settings)
    per = round((time.perf_counter() - started) * 1000 / len(clean), 3)
    for a in out:
        a.latency_ms = per
    return out


def answer_many(
    session: Session,
    questions: list[str],
    *,
    embedder: Embedder,
    settings,
    index_cache: IndexCache | None = None,
    batch_size: int = 512,
) -> Iterator[Answer]:
    """``answer`` for many questions, ``batch_size`` at a time (one embedding call and one
    index search per batch, ``answer_batch``), chat model included when one is configured:
    each yielded answer is the one ``answer`` gives for that question (``supportloop ask --file``)."""
    if batch_size < 1:
        raise ValidationError(f"The batch size must be at least 1, got {batch_size}.")
    for i in range(0, len(questions), batch_size):
        yield from answer_batch(session, questions[i : i + batch_size], embedder=embedder, settings=settings,
                                index_cache=index_cache, chat=True)


def record_answer(
    session: Session,
    conversation_id: int,
    answer: Answer,
    *,
    clock: Clock | None = None,
    scrubber: Scrubber | None = None,
    escalate_conversation: bool = True,
    settings=None,
    enricher: Enricher | None = None,
) -> Message:
    """Store an answer as the conversation's next assistant message.

    Records the KB version, confidence, model and latency on the message, one
    ``message_chunk`` row per retrieved chunk (``used`` for those the answer used), and
    adds 1 to ``times_retrieved`` / ``times_used_in_response`` of those chunks. An escalated
    answer also hands the conversation to a human (status ``escalated``) when
    ``escalate_conversation``. The used chunks' performance scores are recomputed (their
    booking rate has one more use; ``settings`` gives the smoothing). ``scrubber`` redacts
    the stored text (a model may echo personal data from the question); without it the text
    is stored as is. With an ``enricher`` (``core.enrichment.enrich``) the message gets its tone score
    and profanity flags (and the conversation its mean tone) in the same transaction.
    """
    clock = clock or SystemClock()
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.")
    now = clock.now()
    redacted, types, safe = answer.text, [], True
    if scrubber is not None:
        res = scrubber.scrub(answer.text)
        redacted, types, safe = res.text, res.entity_types, res.safe
    msg = Message(
        conversation_id=conv.id,
        role=MessageRole.ASSISTANT,
        raw_content=answer.text,
        redacted_content=redacted,
        pii_entity_types=types,
        safe_for_training=safe,
        confidence=answer.confidence,
        model_used=answer.model_used,
        latency_ms=answer.latency_ms,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        kb_version_id=answer.kb_version_id,
        created_at=now,
    )
    session.add(msg)
    session.flush()
    used = set(answer.used_chunk_ids)
    seen: set[int] = set()
    rows = []
    for rank, (chunk_id, _ext, score) in enumerate(answer.retrieved, start=1):
        if chunk_id in seen:
            continue
        seen.add(chunk_id)
        rows.append(
            MessageChunk(
                message_id=msg.id, chunk_id=chunk_id, rank=rank, score=float(score), used=chunk_id in used
            )
        )
    session.add_all(rows)
    scoring.lock_chunk_rows(session, seen | used)  # in id order, before any of them is updated
    if seen:
        session.execute(
            update(Chunk)
            .where(Chunk.id.in_(sorted(seen)))
            .values(times_retrieved=Chunk.times_retrieved + 1)
            .execution_options(synchronize_session=False)
        )
    if used:
        session.execute(
            update(Chunk)
            .where(Chunk.id.in_(sorted(used)))
            .values(times_used_in_response=Chunk.times_used_in_response + 1)
            .execution_options(synchronize_session=False)
        )
        scoring.rescore(session, sorted(used), settings)
    if answer.escalated and escalate_conversation and conv.status == ConversationStatus.AI:
        lifecycle.hand_off(conv, now, f"low confidence ({answer.confidence:.2f})")
    if answer.error:
        events.record(
            session,
            "responder.model_failed",
            answer.error[:300],
            severity="warning",
            details={"message_id": msg.id, "error": answer.error},
            clock=clock,
        )
    conv.updated_at = now
    session.flush()
    outcomes.refresh_outcome(session, conv, clock)
    if enricher is not None:
        enrich.enrich_message(session, msg.id, enricher, clock)
    return msg
