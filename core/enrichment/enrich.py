"""Conversation enrichment: intents, profanity/abuse flags and tone scores on messages.

For every message it enriches (``enrich_messages``):

- **customer messages** get an intent with a confidence (``core.enrichment.intents``; ``unknown`` below
  ``settings.intent_threshold``) and profanity/abuse flags (``core.enrichment.profanity``) on their
  redacted text;
- **assistant answers** get flags and a tone score 0-1 with its parts (``core.enrichment.tone``) on the
  text the customer sees (the admin's edit, else the raw text, else the redacted text);
- **agent replies** get flags only;
- the **conversation** takes the intent of its first customer message with a known intent
  (unless an admin set it, or it came with the import), and its outcome's ``computed_tone_score``
  becomes the mean tone score of its answers (an imported ``tone_score`` is kept beside it).

Texts are embedded once per batch with the shared embedder and scored with one profanity
model call, so enrichment keeps up with ingest. ``backfill`` enriches older data (the
``supportloop enrich --since`` command).

Training the intent classifier is long work, so only an enricher made with ``may_train=True``
(the job runner, the CLI, the demo) trains one when none fits the embedder. The API's enricher
(``may_train=False``) never trains inside a request: without a classifier it leaves the customer
messages' intent and ``enriched_at`` empty (flags are still set), and the runner's
``enrich_missing`` task trains the classifier and classifies them.

Rules other parts call:

- ``is_flagged(message)`` / ``eligible_for_training(session, message)``: flagged customer
  messages are kept but never become training data or KB chunks;
- ``hold_reasons(message)``: a flagged assistant draft is never sent; delivery holds it for
  review with these reasons.

Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.enrichment import intents as intents_mod
from core.enrichment import profanity, tone
from core.platform.actors import Actor
from core.platform.clock import Clock, SystemClock
from core.platform.embeddings import get_embedder
from core.platform.errors import NotFound
from core.platform.models import Conversation, ConversationOutcome, Message, TrainingExample
from core.platform.services import Embedder
from core.platform.statuses import ConversationStatus, MessageRole

_USER, _ASSISTANT, _AGENT = MessageRole.USER, MessageRole.ASSISTANT, MessageRole.AGENT
ENRICHED_ROLES = (_USER, _ASSISTANT, _AGENT)


class Enricher:
    """What enrichment needs, loaded once per process: settings, the shared embedder and the
    brand voice, plus a cache of the approved example answers' vectors."""

    def __init__(self, settings, embedder: Embedder, cache_size: int = 20_000, *, may_train: bool = True):
        self.settings = settings
        self.embedder = embedder
        self.may_train = may_train
        self.cache_size = cache_size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` through a bounded cache: repeated texts (canned answers,
        "thanks!") and repeats within the batch are embedded once."""
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for t in known:
                self._vectors.move_to_end(t)
        new = list(dict.fromkeys(t for t in texts if t not in known))
        if new:
            fresh = self.embedder.encode(new)
            known.update(zip(new, fresh, strict=True))
            with self._lock:
                for t, v in zip(new, fresh, strict=True):
                    self._vectors[t] = v
                while len(self._vectors) > self.cache_size:
                    self._vectors.popitem(last=False)
        if not texts:
            return np.zeros((0, getattr(self.embedder, "dim", 0)), dtype=np.float32)
        return np.stack([known[t] for t in texts])

    @property
    def voice(self) -> tone.BrandVoice:
        return tone.load_brand_voice(self.settings.brand_voice_path or None)

    def example_texts(self, session: Session) -> list[str]:
        """The answers whose style the tone score compares with: the brand voice's examples
        and the newest admin-approved answers (flagged ones left out)."""
        texts = list(self.voice.examples)
        n = self.settings.tone_examples_max
        if n:
            rows = session.execute(
                select(TrainingExample.id, TrainingExample.answer)
                .where(TrainingExample.active.is_(True), TrainingExample.human_verified.is_(True))
                .order_by(TrainingExample.id.desc())
                .limit(n)
            ).all()
            flagged = flagged_example_ids(session, [i for i, _a in rows])
            texts += [a for i, a in rows if a and a.strip() and i not in flagged]
        return list(dict.fromkeys(texts))

    def example_vectors(self, session: Session) -> np.ndarray:
        """Vectors of ``example_texts`` (only new texts are embedded)."""
        return self.encode(self.example_texts(session))


_ENRICHERS: dict[tuple, Enricher] = {}
_ENRICHERS_LOCK = threading.Lock()


def get_enricher(settings, embedder: Embedder | None = None, *, may_train: bool = True) -> Enricher:
    """The process-wide enricher of ``settings`` on ``embedder`` (default: the shared one).
    ``may_train=False`` (request paths) never trains the intent classifier."""
    if embedder is None:
        embedder = get_embedder(settings)
    key = (id(settings), id(embedder), may_train)
    with _ENRICHERS_LOCK:
        if key not in _ENRICHERS:
            _ENRICHERS[key] = Enricher(settings, embedder, may_train=may_train)
        return _ENRICHERS[key]


@dataclass
class EnrichReport:
    """What an enrichment run did."""

    messages: int = 0
    customer_messages: int = 0
    answers: int = 0
    flagged: int = 0
    unknown_intents: int = 0
    conversations: int = 0
    intents: dict[str, int] = field(default_factory=dict)
    intent_model_id: int | None = None
    mean_tone: float | None = None
    seconds: float = 0.0

    def add(self, other: EnrichReport) -> None:
        tones = [(self.mean_tone, self.answers), (other.mean_tone, other.answers)]
        n = sum(k for m, k in tones if m is not None)
        self.mean_tone = round(sum(m * k for m, k in tones if m is not None) / n, 4) if n else None
        for name in ("messages", "customer_messages", "answers", "flagged", "unknown_intents",
                     "conversations", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.intents = dict(Counter(self.intents) + Counter(other.intents))
        self.intent_model_id = other.intent_model_id or self.intent_model_id

    def summary(self) -> str:
        """One human-readable paragraph."""
        top = ", ".join(f"{k} {v}" for k, v in sorted(self.intents.items(), key=lambda kv: -kv[1])[:8])
        tone_txt = f"{self.mean_tone:.2f}" if self.mean_tone is not None else "-"
        return (
            f"{self.messages} message(s) enriched in {self.seconds:.1f}s "
            f"({self.customer_messages} from customers, {self.answers} answers) in "
            f"{self.conversations} conversation(s)\n"
            f"flagged: {self.flagged}; unknown intent: {self.unknown_intents}; mean tone score: {tone_txt}\n"
            f"intents: {top or '-'}"
        )


# --- the rules other modules call --------------------------------------------------------
def is_flagged(message: Message) -> bool:
    """True when the message was flagged for profanity or abuse."""
    return bool(message.flagged)


def _flagged_ids(session: Session, ids: Iterable[int]) -> set[int]:
    ids = sorted({i for i in ids if i is not None})
    out: set[int] = set()
    for i in range(0, len(ids), 500):
        out |= set(session.scalars(
            select(Message.id).where(Message.id.in_(ids[i : i + 500]), Message.flagged.is_(True))
        ))
    return out


def eligible_for_training(session: Session, message: Message | int) -> bool:
    """May this message (and the customer question it answers) become training data or a KB
    chunk? No when it or its question is flagged, or it is not safe for training (PII)."""
    msg = session.get(Message, message) if isinstance(message, int) else message
    if msg is None:
        raise NotFound(f"Message {message} does not exist.")
    if msg.flagged or not msg.safe_for_training:
        return False
    if msg.role in (_ASSISTANT, _AGENT):
        q = session.scalar(
            select(Message).where(Message.conversation_id == msg.conversation_id, Message.id < msg.id,
                                  Message.role == _USER).order_by(Message.id.desc()).limit(1)
        )
        if q is not None and q.flagged:
            return False
    return True


def flagged_example_ids(session: Session, example_ids: Iterable[int]) -> set[int]:
    """The training examples among ``example_ids`` whose answer or source messages (the
    question) are flagged: the dataset builder and KB promotion leave these out."""
    ids = sorted(set(example_ids))
    rows: dict[int, set[int]] = {}
    for k in range(0, len(ids), 500):
        for ex_id, mid, sources in session.execute(
            select(TrainingExample.id, TrainingExample.message_id, TrainingExample.source_message_ids)
            .where(TrainingExample.id.in_(ids[k : k + 500]))
        ):
            rows[ex_id] = {m for m in [mid, *(sources or [])] if isinstance(m, int)}
    flagged = _flagged_ids(session, {m for ms in rows.values() for m in ms})
    return {ex_id for ex_id, ms in rows.items() if ms & flagged}


def hold_reasons(message: Message) -> list[str]:
    """Why an assistant draft must be held for review before it is sent (empty: no reason
    from enrichment). A flagged draft gives ``flagged:<reason>`` for each reason."""
    if message.role != _ASSISTANT or not message.flagged:
        return []
    return [f"flagged:{r}" for r in (message.flag_reasons or ["profanity"])]


def text_for(message: Message) -> str:
    """The text enrichment looks at: a customer message's redacted text; for replies the
    text the customer sees (the admin's edit, else the raw text, else the redacted text)."""
    if message.role == _USER:
        return message.redacted_content or ""
    return message.human_edit_content or message.raw_content or message.redacted_content or ""


# --- enrichment ---------------------------------------------------------------------------
def enrich_messages(
    session: Session, messages: list[Message], enricher: Enricher, clock: Clock | None = None
) -> EnrichReport:
    """Enrich these messages (see the module docstring) and their conversations."""
    started = time.perf_counter()
    now = (clock or SystemClock()).now()
    msgs = [m for m in messages if m.role in ENRICHED_ROLES]
    report = EnrichReport(messages=len(msgs))
    if not msgs:
        return report
    with session.no_autoflush:  # compute first, write at the end: SQLite's write lock is held briefly
        _score(session, msgs, enricher, report, clock, now)
    session.flush()
    report.conversations = _update_conversations(session, {m.conversation_id for m in msgs}, now)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _score(session: Session, msgs: list[Message], enricher: Enricher, report: EnrichReport,
           clock: Clock | None, now: dt.datetime) -> None:
    """Intents, tone and flags of ``msgs`` (set on the objects, not flushed)."""
    settings = enricher.settings
    texts = [text_for(m) for m in msgs]
    flags = profanity.check_texts(texts, settings.profanity_threshold)

    users = [i for i, m in enumerate(msgs) if m.role == _USER]
    answers = [i for i, m in enumerate(msgs) if m.role == _ASSISTANT]
    embed_idx = [i for i in users + answers if texts[i].strip()]
    vectors = enricher.encode([texts[i] for i in embed_idx]) if embed_idx else None
    row_of = {i: k for k, i in enumerate(embed_idx)}

    clf = None
    if users and enricher.may_train:
        clf = intents_mod.ensure_classifier(session, enricher.embedder, settings, clock)
    elif users:
        clf = intents_mod.load_classifier(session, enricher.embedder)
    waiting = set() if clf is not None or enricher.may_train else set(users)  # for the runner
    if clf is not None:
        report.intent_model_id = intents_mod.active_model(session).id
    to_classify = [i for i in users if i in row_of and msgs[i].intent_source != "admin"]
    if clf is not None and to_classify:
        preds = clf.predict(vectors[[row_of[i] for i in to_classify]], settings.intent_threshold)
        for i, p in zip(to_classify, preds, strict=True):
            msgs[i].intent, msgs[i].intent_confidence, msgs[i].intent_source = p.intent, p.confidence, "model"
    for i in users:
        m = msgs[i]
        if i in waiting:
            continue
        if m.intent_source != "admin" and i not in row_of:  # empty text
            m.intent, m.intent_confidence, m.intent_source = intents_mod.UNKNOWN, 0.0, "model"
        if m.intent:
            report.intents[m.intent] = report.intents.get(m.intent, 0) + 1
            report.unknown_intents += m.intent == intents_mod.UNKNOWN

    if answers:
        ans_rows = [row_of[i] for i in answers if i in row_of]
        examples = enricher.example_vectors(session)
        results = tone.score_texts(
            [texts[i] for i in answers if i in row_of], enricher.voice,
            vectors[ans_rows] if ans_rows else None, examples,
        )
        by_index = dict(zip([i for i in answers if i in row_of], results, strict=True))
        tones = []
        for i in answers:
            res = by_index.get(i) or tone.score_text(texts[i], enricher.voice)
            msgs[i].tone_score, msgs[i].tone_parts = res.score, res.parts
            tones.append(res.score)
        report.mean_tone = round(float(np.mean(tones)), 4)

    for k, (m, f) in enumerate(zip(msgs, flags, strict=True)):
        m.flagged, m.flag_reasons, m.profanity_score = f.flagged, f.reasons, f.score
        m.enriched_at = None if k in waiting else now
        report.flagged += f.flagged
    report.customer_messages, report.answers = len(users), len(answers)


def _update_conversations(session: Session, conversation_ids: set[int], now: dt.datetime) -> int:
    """Conversation intent from its first customer message with a known intent; outcome
    tone = mean tone of its answers."""
    ids = sorted(conversation_ids)
    for k in range(0, len(ids), 500):
        part = ids[k : k + 500]
        first: dict[int, tuple[str, float | None]] = {}
        fallback: dict[int, tuple[str, float | None]] = {}
        rows = session.execute(
            select(Message.conversation_id, Message.intent, Message.intent_confidence)
            .where(Message.conversation_id.in_(part), Message.role == _USER, Message.intent.is_not(None))
            .order_by(Message.conversation_id, Message.id)
        )
        for cid, intent, conf in rows:
            fallback.setdefault(cid, (intent, conf))
            if intent != intents_mod.UNKNOWN:
                first.setdefault(cid, (intent, conf))
        tones = dict(session.execute(
            select(Message.conversation_id, func.avg(Message.tone_score))
            .where(Message.conversation_id.in_(part), Message.role == _ASSISTANT,
                   Message.tone_score.is_not(None))
            .group_by(Message.conversation_id)
        ).all())
        for conv in session.scalars(select(Conversation).where(Conversation.id.in_(part))):
            if conv.intent is not None and conv.intent_source is None:
                conv.intent_source = "import"  # given by the source system: kept
            if conv.intent_source in (None, "model"):
                pick = first.get(conv.id) or fallback.get(conv.id)
                if pick and (conv.intent, conv.intent_confidence) != pick:
                    conv.intent, conv.intent_confidence = pick
                    conv.intent_source, conv.updated_at = "model", now
        outs = select(ConversationOutcome).where(ConversationOutcome.conversation_id.in_(part))
        for out in session.scalars(outs):
            t = tones.get(out.conversation_id)
            if t is not None and out.computed_tone_score != round(float(t), 4):
                out.computed_tone_score, out.updated_at = round(float(t), 4), now
    session.flush()
    return len(ids)


def enrich_conversations(
    session: Session, conversation_ids: list[int], enricher: Enricher, clock: Clock | None = None
) -> EnrichReport:
    """Enrich every message of these conversations (e.g. right after ``store_conversations``)."""
    report = EnrichReport()
    ids = sorted(set(conversation_ids))
    for k in range(0, len(ids), 500):
        msgs = list(session.scalars(
            select(Message).where(Message.conversation_id.in_(ids[k : k + 500])).order_by(Message.id)
        ))
        report.add(enrich_messages(session, msgs, enricher, clock))
    return report


def enrich_message(
    session: Session, message_id: int, enricher: Enricher, clock: Clock | None = None
) -> Message:
    """Enrich one message (after ``add_message`` or ``record_answer``); returns it."""
    msg = session.get(Message, message_id)
    if msg is None:
        raise NotFound(f"Message {message_id} does not exist.")
    enrich_messages(session, [msg], enricher, clock)
    return msg


def backfill(
    session: Session,
    enricher: Enricher,
    since: dt.datetime | None = None,
    *,
    only_missing: bool = False,
    clock: Clock | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int | None = None,
) -> EnrichReport:
    """Enrich the messages created at or after ``since`` (all when None), in batches of whole
    conversations; ``only_missing`` skips messages already enriched. ``progress(done, total)``
    is called with message counts."""
    size = batch_size or enricher.settings.enrich_batch_size
    q = select(Message.conversation_id, func.count()).where(Message.role.in_(ENRICHED_ROLES))
    if since is not None:
        q = q.where(Message.created_at >= since)
    if only_missing:
        q = q.where(Message.enriched_at.is_(None))
    counts = session.execute(q.group_by(Message.conversation_id).order_by(Message.conversation_id)).all()
    total = sum(n for _c, n in counts)
    report = EnrichReport()
    intents_mod.ensure_classifier(session, enricher.embedder, enricher.settings, clock)
    if progress:  # after the classifier is trained, so a caller that commits here ends that write
        progress(0, total)
    done, batch, in_batch = 0, [], 0
    for i, (cid, n) in enumerate(counts):
        batch.append(cid)
        in_batch += n
        if in_batch >= size or i == len(counts) - 1:
            mq = select(Message).where(Message.conversation_id.in_(batch), Message.role.in_(ENRICHED_ROLES))
            if since is not None:
                mq = mq.where(Message.created_at >= since)
            if only_missing:
                mq = mq.where(Message.enriched_at.is_(None))
            msgs = list(session.scalars(mq.order_by(Message.id)))
            report.add(enrich_messages(session, msgs, enricher, clock))
            done += in_batch
            if progress:
                progress(done, total)
            batch, in_batch = [], 0
    return report


def retrain(
    session: Session, embedder: Embedder, settings, clock: Clock | None = None, *, actor: Actor
) -> dict:
    """Retrain the intent classifier (the weekly KB refresh calls this after activation, so new
    KB categories, approved examples and admin corrections are learnt); ``actor`` needs the
    ``manage_kb`` right. Returns a summary."""
    report = intents_mod.train_intent_model(session, embedder, settings, clock, actor=actor,
                                            reason="weekly refresh")
    return asdict(report)


# --- metrics ------------------------------------------------------------------------------
def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def enrichment_metrics(session: Session, since: dt.datetime, until: dt.datetime | None = None) -> dict:
    """Metrics of the conversations started in [since, until): containment, CSAT and
    conversion by intent; the share of flagged customer messages and answers; the mean tone
    score of answers by channel and by model (definitions in docs/enrichment.md)."""
    conv_q = (
        select(Conversation.intent, Conversation.status, Conversation.escalated_at,
               ConversationOutcome.csat, ConversationOutcome.booking_converted)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Conversation.created_at >= since)
    )
    msg_q = (
        select(Conversation.channel, Message.role, Message.model_used, Message.flagged, Message.tone_score)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.created_at >= since, Message.enriched_at.is_not(None),
               Message.role.in_((_USER, _ASSISTANT)))
    )
    if until is not None:
        conv_q = conv_q.where(Conversation.created_at < until)
        msg_q = msg_q.where(Conversation.created_at < until)
    by_intent: dict[str, dict] = {}
    for intent, status, escalated_at, csat, booked in session.execute(conv_q):
        g = by_intent.setdefault(intent or intents_mod.UNKNOWN, Counter())
        g["conversations"] += 1
        g["closed"] += status == ConversationStatus.CLOSED
        g["contained"] += status == ConversationStatus.CLOSED and escalated_at is None
        g["bookings"] += bool(booked)
        if csat is not None:
            g["csat_count"] += 1
            g["csat_sum"] += csat
    intents_out = [
        {"intent": k, "conversations": g["conversations"],
         "containment_rate": _rate(g["contained"], g["closed"]),
         "csat": _rate(g["csat_sum"], g["csat_count"]), "csat_responses": g["csat_count"],
         "conversion": _rate(g["bookings"], g["conversations"])}
        for k, g in sorted(by_intent.items(), key=lambda kv: (-kv[1]["conversations"], kv[0]))
    ]
    flags = Counter()
    tone_by: dict[str, dict[str, list[float]]] = {"channel": {}, "model": {}}
    for channel, role, model, flagged, score in session.execute(msg_q):
        flags[(role, "n")] += 1
        flags[(role, "flagged")] += bool(flagged)
        if role == _ASSISTANT and score is not None:
            tone_by["channel"].setdefault(channel, []).append(score)
            tone_by["model"].setdefault(model or "", []).append(score)

    def tone_rows(dim: str) -> list[dict]:
        return [{dim: k, "answers": len(v), "tone_score": round(float(np.mean(v)), 4)}
                for k, v in sorted(tone_by[dim].items())]

    return {
        "by_intent": intents_out,
        "flagged": {
            "customer_messages": flags[(_USER, "n")], "customer_flagged": flags[(_USER, "flagged")],
            "customer_share": _rate(flags[(_USER, "flagged")], flags[(_USER, "n")]),
            "answers": flags[(_ASSISTANT, "n")], "answers_flagged": flags[(_ASSISTANT, "flagged")],
            "answer_share": _rate(flags[(_ASSISTANT, "flagged")], flags[(_ASSISTANT, "n")]),
        },
        "tone_by_channel": tone_rows("channel"),
        "tone_by_model": tone_rows("model"),
    }
