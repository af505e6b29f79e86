"""The simulated world of the self-learning benchmark (bench/learning_curve.py): BANKING77
questions, their answers, and the people who know the truth (customers, agents, admins).

Everything here *acts through the product*: customers' messages go in with
``core.conversations.ingest.store_conversations``, their votes with
``core.learning.loop.record_vote``; agents
reply with ``core.conversations.ingest.add_message``; admins work the review queue with
``core.enrichment.intents.correct_intent`` and ``core.review.decisions.approve`` / ``edit``, in the queue's
own order (``core.review.queue.list_queue``). Only the ground truth (the intent of each question) lives
here, never a decision the product makes.
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.platform.pii import ScrubResult

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "banking77"
CITATION = (
    "Casanueva, Temčinas, Gerz, Henderson, Vulić (PolyAI): Efficient Intent Detection with Dual "
    "Sentence Encoders, NLP for ConvAI workshop, ACL 2020 (https://arxiv.org/abs/2003.04807). "
    "BANKING77, CC BY 4.0, https://github.com/PolyAI-LDN/task-specific-datasets"
)


# --- data -------------------------------------------------------------------------------------
@dataclass
class Banking77:
    """The data set: (text, intent) rows of the train and test split, and the intents."""

    train: list[tuple[str, str]]
    test: list[tuple[str, str]]
    intents: list[str]


def intent_name(category: str) -> str:
    """A BANKING77 category as a product intent name (lower-case letters, digits, _ and -:
    'reverted_card_payment?' becomes 'reverted_card_payment')."""
    return re.sub(r"[^a-z0-9_\-]", "", category.strip().lower())


def _read(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [(r["text"].strip(), intent_name(r["category"])) for r in csv.DictReader(fh)]


def load_banking77(data_dir: Path | str = DATA_DIR, intents: int | None = None) -> Banking77:
    """Read train.csv / test.csv / categories.json; with ``intents`` keep only the first N
    intents of categories.json (quick runs)."""
    data_dir = Path(data_dir)
    if not (data_dir / "train.csv").exists():
        raise SystemExit(f"BANKING77 not found in {data_dir}: pass --data DIR (train.csv, test.csv).")
    names = [intent_name(c) for c in json.loads((data_dir / "categories.json").read_text(encoding="utf-8"))]
    keep = names[:intents] if intents else names
    wanted = set(keep)
    train = [r for r in _read(data_dir / "train.csv") if r[1] in wanted]
    test = [r for r in _read(data_dir / "test.csv") if r[1] in wanted]
    return Banking77(train, test, list(keep))


def answer_text(intent: str) -> str:
    """The answer that stands for an intent (the knowledge a chunk of that intent holds)."""
    return f"Answer: {intent.replace('_', ' ')}."


@dataclass
class Plan:
    """How the training split is used: one seed question per intent (the starting KB), a
    small gate set (the evaluation questions of the weekly refresh), and the weekly traffic."""

    seeds: list[int]
    gate: list[int]
    weeks: list[list[int]]


def make_plan(data: Banking77, *, weeks: int, seed: int, gate_per_intent: int = 2,
              per_week: int | None = None) -> Plan:
    """Pick seeds and gate questions per intent and split the rest into ``weeks`` slices
    (equal, or ``per_week`` questions each), all deterministic for ``seed``."""
    rng = random.Random(seed)
    by_intent: dict[str, list[int]] = {}
    for i, (_, intent) in enumerate(data.train):
        by_intent.setdefault(intent, []).append(i)
    seeds, gate = [], []
    for intent in data.intents:
        rows = by_intent.get(intent, [])[:]
        rng.shuffle(rows)
        seeds += rows[:1]
        gate += rows[1 : 1 + gate_per_intent]
    used = set(seeds) | set(gate)
    rest = [i for i in range(len(data.train)) if i not in used]
    rng.shuffle(rest)
    if per_week:
        rest = rest[: per_week * weeks]
    slices = [list(s) for s in np.array_split(np.array(rest, dtype=int), weeks)] if weeks else []
    return Plan(seeds, gate, [[int(i) for i in s] for s in slices])


# --- helpers the product is given --------------------------------------------------------------
class MemoEmbedder:
    """Wraps an embedder and remembers every text's vector for the run (same ``model_id``):
    the benchmark embeds each BANKING77 sentence once, although the product asks for it once
    per week and variant. ``prime`` embeds many texts in one batch."""

    def __init__(self, base):
        self.base = base
        self.model_id = base.model_id
        self.dim = base.dim
        self._vectors: dict[str, np.ndarray] = {}
        self.encoded = 0

    def prime(self, texts: list[str], batch: int = 2048, progress: bool = False) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        bar = None
        if progress and todo:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="embedding BANKING77", unit="text")
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            for t, v in zip(part, self.base.encode(part), strict=True):
                self._vectors[t] = v
            self.encoded += len(part)
            if bar:
                bar.update(len(part))
        if bar:
            bar.close()

    def load(self, path: Path) -> int:
        """Vectors saved by ``save`` for this model (how many were loaded)."""
        path = Path(path)
        if not path.exists():
            return 0
        with np.load(path, allow_pickle=False) as z:
            if str(z["model_id"]) != self.model_id:
                return 0
            self._vectors.update(zip([str(t) for t in z["texts"]], z["vectors"], strict=True))
            return len(z["texts"])

    def save(self, path: Path) -> None:
        """Keep the vectors for the next run (``--embedding-cache``)."""
        texts = list(self._vectors)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, model_id=np.array(self.model_id), texts=np.array(texts),
                 vectors=np.stack([self._vectors[t] for t in texts]).astype(np.float32))

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.prime(texts)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)


class MemoScrubber:
    """Wraps a PII scrubber and remembers each text's result (the same text is scrubbed once
    per run, not once per variant). ``base=None`` passes text through as safe (smoke tests)."""

    def __init__(self, base=None):
        self.base = base
        self._done: dict[str, ScrubResult] = {}

    def scrub_batch(self, texts) -> list[ScrubResult]:
        texts = list(texts)
        todo = list(dict.fromkeys(t for t in texts if t not in self._done))
        if todo:
            results = self.base.scrub_batch(todo) if self.base is not None else [ScrubResult(t) for t in todo]
            self._done.update(zip(todo, results, strict=True))
        return [self._done[t] for t in texts]

    def scrub(self, text: str) -> ScrubResult:
        return self.scrub_batch([text])[0]


# --- the people ---------------------------------------------------------------------------------
@dataclass
class Served:
    """One customer question as the product answered it (what the simulation remembers)."""

    row: int
    conversation_id: int
    message_id: int
    intent: str  # the truth
    answered_intent: str | None
    escalated: bool


@dataclass
class Counters:
    """What the people did (cumulative over the run)."""

    agent_answers: int = 0
    agent_answers_proposed: int = 0  # agents' replies the refresh task proposed as chunks
    votes: int = 0
    down_votes: int = 0
    reviews: int = 0
    review_labels: int = 0  # reviews of answered (not escalated) questions: new human labels
    approved: int = 0
    edited: int = 0
    blocked: int = 0  # approvals the product refused to turn into knowledge (unsafe text)
    intent_corrections: int = 0
    extra: dict = field(default_factory=dict)


class Customers:
    """Customers vote on ``vote_share`` of the answers they get (not on hand-offs); a vote is
    wrong (up for a wrong answer, down for a right one) with probability ``noise``."""

    def __init__(self, vote_share: float, noise: float, seed: int):
        self.vote_share, self.noise = vote_share, noise
        self.rng = random.Random(seed)

    def maybe_vote(self, session, served: Served, user_id: str, settings, clock, counters: Counters) -> None:
        from core.learning.loop import record_vote

        if served.escalated or self.rng.random() >= self.vote_share:
            return
        right = served.answered_intent == served.intent
        if self.rng.random() < self.noise:
            right = not right
        vote = "up" if right else "down"
        record_vote(session, served.message_id, vote, user_id, source="widget", settings=settings,
                    clock=clock)
        counters.votes += 1
        counters.down_votes += vote == "down"


class Agents:
    """A human agent answers every escalated question with its intent's answer."""

    def reply(self, session, served: Served, scrubber, settings, clock, counters: Counters) -> None:
        from core.conversations.ingest import add_message
        from core.conversations.schemas import MessageIn

        add_message(
            session,
            served.conversation_id,
            MessageIn(role="agent", content=answer_text(served.intent), created_at=clock.now()),
            scrubber,
            settings,
            clock,
        )
        counters.agent_answers += 1


class Admins:
    """Admins work ``budget`` items of the review queue per week, in the queue's order: they
    set the conversation's intent when it is wrong or missing, approve a right answer, and
    replace a wrong answer or a hand-off by the intent's answer (the agent's reply); every
    decision proposes a KB chunk. ``only_reasons`` restricts them to items with one of those
    reasons (the votes-only variant works down-voted answers only)."""

    def __init__(self, budget: int, only_reasons: set[str] | None = None, actor: str = "admin@sim"):
        self.budget, self.only_reasons, self.actor = budget, only_reasons, actor

    def work(self, session, served_by_conv: dict[int, Served], scrubber, settings, clock,
             counters: Counters) -> int:
        from core.enrichment import intents
        from core.platform.actors import Actor
        from core.platform.models import Conversation
        from core.review import decisions
        from core.review import queue as review

        admin = Actor(0, self.actor, "admin")
        review.refresh_queue(session, settings, clock, actor=admin)
        done, offset, skipped = 0, 0, 0
        while done < self.budget:
            rows = review.list_queue(session, kind="review", status="open", limit=200, offset=offset)
            if not rows:
                break
            for row in rows:
                if done >= self.budget:
                    break
                served = served_by_conv.get(row.conversation_id)
                if served is None or served.message_id != row.message_id or (
                    self.only_reasons and not self.only_reasons & set(row.reasons)
                ):
                    skipped += 1
                    continue
                conv = session.get(Conversation, row.conversation_id)
                if conv.intent != served.intent:
                    intents.correct_intent(session, served.intent, admin,
                                           conversation_id=row.conversation_id, clock=clock)
                    counters.intent_corrections += 1
                if not served.escalated and served.answered_intent == served.intent:
                    d = decisions.approve(session, row.id, admin, propose_chunk=True, settings=settings,
                                       clock=clock)
                    counters.approved += 1
                else:
                    why = "hand-off: the agent's answer" if served.escalated else "answered the wrong intent"
                    d = decisions.edit(session, row.id, admin, answer_text(served.intent), why,
                                    scrubber=scrubber, propose_chunk=True, settings=settings, clock=clock)
                    counters.edited += 1
                counters.blocked += d.proposed_chunk_id is None
                counters.reviews += 1
                counters.review_labels += not served.escalated
                done += 1
            # decided rows left the open queue; undecided (skipped) ones are still ahead of us
            offset = skipped
        return done
