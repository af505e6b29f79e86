"""Training datasets: versioned, PII-free OpenAI chat-format JSONL built from gold examples.

``build_dataset`` (``supportloop dataset build``, the quarterly task):

1. **select** the training examples of the dataset kind (``chat``: typed channels; ``voice``:
   examples flagged ``voice`` or from the phone channel) and skip, counting the reason, those
   that are inactive, not human verified, below the quality floor, rated below the rating
   floor (CSAT 1-5 of the conversation, a thumbs up counts 5, down 1; unrated pass), without a
   booking when only bookings are wanted, older than ``since``, or outside the intent / tag /
   source filters;
2. **drop near-duplicates** (question + answer shingles, ``core.platform.near_duplicates``), keeping the
   best (quality, booking, edited > approved > imported > generated, newest);
3. **sample** deterministically down to ``dataset_max_examples`` (stratified by intent);
4. **scrub both sides again**: personal data found anywhere in an example's source
   conversation (raw vs redacted text, while the raw text is retained) is replaced in every
   text of the example, then every text goes through ``core.platform.pii`` once more; an example with
   any text still unsafe is dropped (``unsafe_pii``);
5. attach the **system prompt** (base + intent prompt; voice: the voice prompt) and, for voice,
   the cleaned dialogue (``core.training.voice``: turns merged, fillers and noise removed);
6. **validate** every example (``core.training.validation``: roles, non-empty content, at most
   65,536 tokens), **split** train/validation deterministically and stratified by intent, write
   both JSONL files (temporary name, then rename), re-validate the files and record the
   version: filters, counts, skipped by reason, token totals (exact, or labelled estimate),
   checksums, builder, memberships. Its status is ``pending_approval``.

Only an admin approves or rejects a dataset version (``approve_dataset``/``reject_dataset``);
only an approved one can be exported for or used by a fine-tune (``core.training.finetune``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from core.platform import audit
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, NotFound, PermissionDenied, SupportloopError, ValidationError
from core.platform.models import (
    DATASET_KINDS,
    TRAINING_SOURCES,
    ConversationOutcome,
    DatasetExample,
    DatasetVersion,
    Message,
    TrainingExample,
    User,
)
from core.platform.near_duplicates import near_duplicates
from core.training.validation import (
    MAX_EXAMPLE_TOKENS,
    TokenCounter,
    example_problems,
    get_token_counter,
    validate_jsonl,
)
from core.training.voice import clean_spoken, merge_turns

SOURCE_RANK = {"edited": 3, "approved": 2, "imported": 1, "generated": 0}
VOICE_CONTEXT_TURNS = 8
SKIP_REASONS = (
    "inactive",
    "not_verified",
    "low_quality",
    "low_rating",
    "no_booking",
    "too_old",
    "intent_filtered",
    "tag_filtered",
    "source_filtered",
    "empty",
    "flagged",
    "near_duplicate",
    "over_max",
    "unsafe_pii",
    "empty_after_cleaning",
    "too_long",
    "invalid",
)
_PLACEHOLDER = re.compile(r"(<[A-Z_]+>)")


# --- filters ---------------------------------------------------------------------------------
@dataclass
class DatasetFilters:
    """What enters a dataset. ``None`` values take their setting (``dataset_*``)."""

    kind: str = "chat"
    human_verified: bool = True
    min_quality: float | None = None
    min_rating: int | None = None
    only_bookings: bool = False
    since: dt.datetime | None = None
    active_only: bool = True
    intents: list[str] | None = None
    tags: list[str] | None = None
    sources: list[str] | None = None
    max_examples: int | None = None
    validation_share: float | None = None
    seed: int | None = None

    def resolved(self, settings: Settings) -> DatasetFilters:
        """A copy with every ``None`` threshold taken from settings, checked."""
        f = replace(
            self,
            min_quality=settings.dataset_min_quality if self.min_quality is None else self.min_quality,
            min_rating=settings.dataset_min_rating if self.min_rating is None else self.min_rating,
            max_examples=settings.dataset_max_examples if self.max_examples is None else self.max_examples,
            validation_share=(
                settings.dataset_validation_share if self.validation_share is None else self.validation_share
            ),
            seed=settings.dataset_seed if self.seed is None else self.seed,
        )
        if f.kind not in DATASET_KINDS:
            raise ValidationError(f"Unknown dataset kind {f.kind!r}; use one of {', '.join(DATASET_KINDS)}.")
        if not 0 <= f.validation_share < 1:
            raise ValidationError(f"validation share {f.validation_share} must be in [0, 1).")
        if f.max_examples < 1:
            raise ValidationError("max examples must be at least 1.")
        for s in f.sources or []:
            if s not in TRAINING_SOURCES:
                raise ValidationError(f"Unknown source {s!r}; use one of {', '.join(TRAINING_SOURCES)}.")
        return f

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["since"] = self.since.isoformat() if self.since else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetFilters:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if d.get("since"):
            d["since"] = dt.datetime.fromisoformat(d["since"])
        return cls(**d)


# --- plain results ----------------------------------------------------------------------------
@dataclass
class DatasetInfo:
    """A dataset version as the CLI and the dashboard show it."""

    id: int
    name: str
    kind: str
    status: str
    train_examples: int
    validation_examples: int
    train_tokens: int
    validation_tokens: int
    token_counter: str
    tokens_estimated: bool
    train_file: str | None
    train_sha256: str | None
    validation_file: str | None
    validation_sha256: str | None
    filters: dict[str, Any]
    counts: dict[str, Any]
    skipped: dict[str, int]
    built_by: str
    build_seconds: float | None
    created_at: dt.datetime
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_reason: str | None = None

    @property
    def examples(self) -> int:
        return self.train_examples + self.validation_examples

    @property
    def tokens(self) -> int:
        return self.train_tokens + self.validation_tokens

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("created_at", "decided_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def info(version: DatasetVersion) -> DatasetInfo:
    """Plain data of a dataset version row."""
    return DatasetInfo(
        id=version.id,
        name=version.name,
        kind=version.kind,
        status=version.status,
        train_examples=version.train_examples,
        validation_examples=version.validation_examples,
        train_tokens=version.train_tokens,
        validation_tokens=version.validation_tokens,
        token_counter=version.token_counter,
        tokens_estimated=version.tokens_estimated,
        train_file=version.train_file,
        train_sha256=version.train_sha256,
        validation_file=version.validation_file,
        validation_sha256=version.validation_sha256,
        filters=dict(version.filters or {}),
        counts=dict(version.counts or {}),
        skipped=dict(version.skipped or {}),
        built_by=version.built_by,
        build_seconds=version.build_seconds,
        created_at=version.created_at,
        decided_by=version.decided_by,
        decided_at=version.decided_at,
        decision_reason=version.decision_reason,
    )


# --- helpers ------------------------------------------------------------------------------------
def _rank_hash(seed: int, salt: str, key: Any) -> str:
    return hashlib.blake2b(f"{seed}:{salt}:{key}".encode(), digest_size=8).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _rating_score(rating: int | None) -> int | None:
    """A stored rating on the 1-5 scale: thumbs up (1) -> 5, down (-1) -> 1."""
    if rating is None:
        return None
    return {1: 5, -1: 1}.get(int(rating), int(rating))


def system_prompt(settings: Settings, intent: str | None, kind: str = "chat") -> str:
    """The system prompt of one example: the voice prompt, or the base prompt plus the
    intent's prompt when one is configured."""
    if kind == "voice":
        return settings.dataset_voice_prompt.strip()
    extra = (settings.dataset_intent_prompts or {}).get((intent or "").strip().lower(), "")
    return f"{settings.dataset_system_prompt.strip()} {extra.strip()}".strip()


def removed_pii(raw: str | None, redacted: str | None) -> list[tuple[str, str]]:
    """The (type, original text) pairs the scrubber replaced, recovered by aligning a message's
    raw text with its redacted text (empty when the raw text is gone or they do not align).
    A person's name also yields its single words (a later "Thanks, Ana!" is caught too)."""
    if not raw or not redacted or len(raw) > 5000:
        return []
    parts = _PLACEHOLDER.split(redacted)
    if len(parts) == 1:
        return []
    pattern = "".join(re.escape(p) if i % 2 == 0 else "(.+?)" for i, p in enumerate(parts))
    m = re.fullmatch(pattern, raw, re.DOTALL)
    if m is None:
        return []
    out = []
    for kind, value in zip(parts[1::2], m.groups(), strict=True):
        t = kind.strip("<>")
        value = value.strip()
        if len(value) >= 3:
            out.append((t, value))
        if t == "PERSON":
            out.extend((t, w) for w in re.findall(r"[A-Z][\w'-]{2,}", value))
    return out


def _replace_known(text: str, known: list[tuple[str, str]]) -> tuple[str, int]:
    n = 0
    for t, value in known:
        text, k = re.subn(r"(?<!\w)" + re.escape(value) + r"(?!\w)", f"<{t}>", text, flags=re.IGNORECASE)
        n += k
    return text, n


def _conversation_pii(session: Session, message_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    """Per conversation (of the given messages): the personal data its messages' scrubbing
    removed, longest first."""
    conv_of: dict[int, int] = {}
    ids = sorted(message_ids)
    for i in range(0, len(ids), 500):
        for mid, cid in session.execute(
            select(Message.id, Message.conversation_id).where(Message.id.in_(ids[i : i + 500]))
        ):
            conv_of[mid] = cid
    convs = sorted(set(conv_of.values()))
    found: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for i in range(0, len(convs), 500):
        q = select(Message.conversation_id, Message.raw_content, Message.redacted_content).where(
            Message.conversation_id.in_(convs[i : i + 500]), Message.raw_content.is_not(None)
        )
        for cid, raw, red in session.execute(q):
            found[cid].update(removed_pii(raw, red))
    return {mid: sorted(found.get(cid, ()), key=lambda p: -len(p[1])) for mid, cid in conv_of.items()}


def _voice_turns(session: Session, rows: list[dict]) -> dict[int, list[tuple[str, str]]]:
    """For voice examples with a source message: the conversation's turns before the answer."""
    out: dict[int, list[tuple[str, str]]] = {}
    for r in rows:
        if not r["message_id"]:
            continue
        msg = session.get(Message, r["message_id"])
        if msg is None:
            continue
        turns = session.execute(
            select(Message.role, Message.redacted_content)
            .where(Message.conversation_id == msg.conversation_id, Message.id < msg.id)
            .order_by(Message.id)
        ).all()
        out[r["id"]] = [(role, text) for role, text in turns][-VOICE_CONTEXT_TURNS * 3 :]
    return out


# --- selection -----------------------------------------------------------------------------------
def _candidates(session: Session, f: DatasetFilters) -> list[dict]:
    te = TrainingExample
    q = (
        select(
            te.id,
            te.message_id,
            te.question,
            te.answer,
            te.intent,
            te.source,
            te.human_verified,
            te.quality_score,
            te.rating,
            te.led_to_booking,
            te.channel,
            te.active,
            te.tags,
            te.voice,
            te.created_at,
            te.source_message_ids,
            ConversationOutcome.csat,
        )
        .outerjoin(Message, Message.id == te.message_id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Message.conversation_id)
        .order_by(te.id)
    )
    is_voice = or_(te.voice.is_(True), func.coalesce(te.channel, "") == "phone")
    q = q.where(is_voice) if f.kind == "voice" else q.where(~is_voice)
    return [dict(r._mapping) for r in session.execute(q)]


def _skip_reason(r: dict, f: DatasetFilters) -> str | None:
    if f.active_only and not r["active"]:
        return "inactive"
    if f.human_verified and not r["human_verified"]:
        return "not_verified"
    if r["quality_score"] is None or r["quality_score"] < f.min_quality:
        return "low_quality"
    scores = [s for s in (_rating_score(r["rating"]), r["csat"]) if s is not None]
    if scores and min(scores) < f.min_rating:
        return "low_rating"
    if f.only_bookings and not r["led_to_booking"]:
        return "no_booking"
    if f.since and r["created_at"] < f.since:
        return "too_old"
    if f.intents and (r["intent"] or "") not in f.intents:
        return "intent_filtered"
    if f.tags and not set(f.tags) & set(r["tags"] or []):
        return "tag_filtered"
    if f.sources and r["source"] not in f.sources:
        return "source_filtered"
    if not (r["question"] or "").strip() or not (r["answer"] or "").strip():
        return "empty"
    return None


def _flagged(session: Session, example_ids: list[int]) -> set[int]:
    """Examples whose messages enrichment flagged for profanity or abuse (core.enrichment.enrich)."""
    if not example_ids:
        return set()
    try:
        from core.enrichment.enrich import flagged_example_ids
    except ImportError:  # enrichment not installed: nothing is flagged
        return set()
    return set(flagged_example_ids(session, example_ids))


def _priority(r: dict) -> tuple:
    return (
        -(r["quality_score"] or 0.0),
        not r["led_to_booking"],
        -SOURCE_RANK.get(r["source"], 0),
        -(r["created_at"].timestamp()),
        -r["id"],
    )


def _stratified_sample(rows: list[dict], limit: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Keep ``limit`` rows, each intent in proportion (largest remainder), lowest hash first."""
    if len(rows) <= limit:
        return rows, []
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["intent"] or ""].append(r)
    exact = {k: len(v) * limit / len(rows) for k, v in groups.items()}
    quota = {k: int(v) for k, v in exact.items()}
    rest = limit - sum(quota.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - quota[k]), k))[:rest]:
        quota[k] += 1
    kept, dropped = [], []
    for k, group in groups.items():
        group = sorted(group, key=lambda r: _rank_hash(seed, "sample", r["id"]))
        kept.extend(group[: quota[k]])
        dropped.extend(group[quota[k] :])
    kept.sort(key=lambda r: r["id"])
    return kept, dropped


def _split(rows: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Deterministic train/validation split, stratified by intent."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["intent"] or ""].append(r)
    train, val = [], []
    for k in sorted(groups):
        group = sorted(groups[k], key=lambda r: _rank_hash(seed, "split", r["id"]))
        n_val = int(len(group) * share + 0.5) if len(group) > 1 else 0
        val.extend(group[:n_val])
        train.extend(group[n_val:])
    return train, val


# --- building ------------------------------------------------------------------------------------
def _messages(
    r: dict, texts: dict[str, str], settings: Settings, kind: str, turns: list[tuple[str, str]] | None
) -> list[dict]:
    system = {"role": "system", "content": system_prompt(settings, r["intent"], kind)}
    if kind == "chat":
        return [
            system,
            {"role": "user", "content": texts[r["question"]]},
            {"role": "assistant", "content": texts[r["answer"]]},
        ]
    context = [(role, texts[t]) for role, t in (turns or [("user", r["question"])])]
    merged = [(role, clean_spoken(text)) for role, text in merge_turns(context)][-VOICE_CONTEXT_TURNS:]
    while merged and merged[0][0] != "user":
        merged.pop(0)
    msgs = [system]
    for role, text in merged:
        m = {"role": role, "content": text}
        if role == "assistant":
            m["weight"] = 0  # earlier answers are context, not gold
        msgs.append(m)
    final = {"role": "assistant", "content": clean_spoken(texts[r["answer"]]), "weight": 1}
    return [*msgs, final]


def _write_jsonl(path: Path, lines: Iterable[dict]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for obj in lines:
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def dataset_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "datasets"


def build_dataset(
    session: Session,
    settings: Settings,
    scrubber,
    *,
    filters: DatasetFilters | None = None,
    actor: str,
    name: str | None = None,
    clock: Clock | None = None,
    counter: TokenCounter | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> DatasetInfo:
    """Build a dataset version (see the module docstring); it is left pending approval.

    ``scrubber`` is a ``core.platform.pii`` scrubber (``scrub_batch``); ``counter`` defaults to the token
    counter of ``finetune_base_model``; ``progress(stage, done, total)`` is called as it goes.
    Raises ValidationError when no example survives (with the skipped counts)."""
    clock = clock or SystemClock()
    started = time.perf_counter()
    f = (filters or DatasetFilters()).resolved(settings)
    counter = counter or get_token_counter(settings.finetune_base_model)
    stage_s: dict[str, float] = {}
    mark = [started]

    def step(stage: str, done: int, total: int) -> None:
        now_t = time.perf_counter()
        stage_s[stage] = round(stage_s.get(stage, 0.0) + now_t - mark[0], 3)
        mark[0] = now_t
        if progress:
            progress(stage, done, total)
    skipped: Counter = Counter()

    rows = _candidates(session, f)
    step("select", len(rows), len(rows))
    kept = []
    for r in rows:
        reason = _skip_reason(r, f)
        if reason:
            skipped[reason] += 1
        else:
            kept.append(r)

    flagged = _flagged(session, [r["id"] for r in kept if r["message_id"] or r["source_message_ids"]])
    if flagged:
        skipped["flagged"] += len(flagged)
        kept = [r for r in kept if r["id"] not in flagged]
    kept.sort(key=_priority)
    twins = near_duplicates(
        [f"{r['question']}\n{r['answer']}" for r in kept], settings.dataset_near_duplicate_similarity
    )
    unique = [r for r, t in zip(kept, twins, strict=True) if t is None]
    skipped["near_duplicate"] += len(kept) - len(unique)
    step("dedupe", len(kept), len(kept))

    sample, over = _stratified_sample(unique, f.max_examples, f.seed)
    skipped["over_max"] += len(over)

    # scrub both sides again (and everything else an example's text comes from)
    known = _conversation_pii(session, {r["message_id"] for r in sample if r["message_id"]})
    turns = _voice_turns(session, sample) if f.kind == "voice" else {}
    propagated = 0
    texts_of: dict[int, list[str]] = {}
    distinct_set: set[str] = set()
    for r in sample:
        own = [r["question"], r["answer"]] + [t for _, t in turns.get(r["id"], [])]
        pii = known.get(r["message_id"], []) if r["message_id"] else []
        keys = []
        for t in own:
            cleaned, n = _replace_known(t, pii) if pii else (t, 0)
            propagated += n
            distinct_set.add(cleaned)
            keys.append(cleaned)
        texts_of[r["id"]] = keys
    distinct = sorted(distinct_set)
    results: dict[str, Any] = {}
    batch = 256
    for i in range(0, len(distinct), batch):
        chunk = distinct[i : i + batch]
        results.update(zip(chunk, scrubber.scrub_batch(chunk), strict=True))
        step("scrub", min(i + batch, len(distinct)), len(distinct))

    built: list[tuple[dict, list[dict], int]] = []
    for r in sample:
        own = texts_of[r["id"]]
        if not all(results[t].safe for t in own):
            skipped["unsafe_pii"] += 1
            continue
        final = {
            orig: results[cleaned].text
            for orig, cleaned in zip(
                [r["question"], r["answer"]] + [t for _, t in turns.get(r["id"], [])], own, strict=True
            )
        }
        voice_turns = [(role, t) for role, t in turns.get(r["id"], [])] or None
        msgs = _messages(r, final, settings, f.kind, voice_turns)
        if any(not m["content"].strip() for m in msgs):
            skipped["empty_after_cleaning"] += 1
            continue
        problems, tokens = example_problems({"messages": msgs}, counter)
        if tokens > MAX_EXAMPLE_TOKENS:
            skipped["too_long"] += 1
            continue
        if problems:
            skipped["invalid"] += 1
            continue
        built.append((r, msgs, tokens))
    step("format", len(built), len(sample))
    if not built:
        raise ValidationError(
            f"No training example passed the filters ({len(rows)} candidates of kind {f.kind}; skipped: "
            + (", ".join(f"{k} {v}" for k, v in sorted(skipped.items()) if v) or "none")
            + "). Approve answers in the review queue, or loosen the filters."
        )

    by_id = {r["id"]: (msgs, tokens) for r, msgs, tokens in built}
    train, val = _split([r for r, _, _ in built], f.validation_share, f.seed)
    now = clock.now()
    quarter = (now.month - 1) // 3 + 1
    version = DatasetVersion(
        name=name or f"{now:%Y}-Q{quarter} {f.kind} {now:%Y-%m-%d %H:%M}",
        kind=f.kind,
        status="pending_approval",
        filters=f.as_dict(),
        counts={},
        skipped={},
        token_counter=counter.name,
        tokens_estimated=counter.estimated,
        system_prompts={
            "base": settings.dataset_system_prompt,
            "intents": settings.dataset_intent_prompts,
            "voice": settings.dataset_voice_prompt,
        },
        built_by=actor,
        created_at=now,
    )
    session.add(version)
    session.flush()
    folder = dataset_dir(settings) / f"{version.id:05d}-{f.kind}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        files = {}
        for split, part in (("train", train), ("validation", val)):
            if not part:
                continue
            path = folder / f"{split}.jsonl"
            _write_jsonl(path, ({"messages": by_id[r["id"]][0]} for r in part))
            report = validate_jsonl(path, counter)
            if not report.ok:
                raise SupportloopError(
                    f"The written {split} file failed validation: "
                    + "; ".join(str(p) for p in report.problems[:5])
                    + ". Nothing was recorded."
                )
            files[split] = (path, report)
            step("write", len(part), len(part))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    rel = Path(settings.data_dir)
    version.train_file = str(files["train"][0].relative_to(rel))
    version.train_sha256 = _sha256(files["train"][0])
    version.train_examples = len(train)
    version.train_tokens = files["train"][1].tokens
    if "validation" in files:
        version.validation_file = str(files["validation"][0].relative_to(rel))
        version.validation_sha256 = _sha256(files["validation"][0])
        version.validation_examples = len(val)
        version.validation_tokens = files["validation"][1].tokens
    version.skipped = {k: skipped[k] for k in SKIP_REASONS if skipped.get(k)}
    version.counts = {
        "candidates": len(rows),
        "passed_filters": len(kept),
        "after_dedupe": len(unique),
        "sampled": len(sample),
        "written": len(built),
        "train": len(train),
        "validation": len(val),
        "by_intent": dict(sorted(Counter(r["intent"] or "" for r, _, _ in built).items())),
        "by_source": dict(sorted(Counter(r["source"] for r, _, _ in built).items())),
        "texts_scrubbed": len(distinct),
        "conversation_pii_replaced": propagated,
        "max_example_tokens": max(t for _, _, t in built),
        "stage_seconds": stage_s,
    }
    rows_in = [
        {
            "dataset_version_id": version.id,
            "training_example_id": r["id"],
            "split": split,
            "position": i,
            "tokens": by_id[r["id"]][1],
        }
        for split, part in (("train", train), ("validation", val))
        for i, r in enumerate(part)
    ]
    for i in range(0, len(rows_in), 1000):
        session.execute(insert(DatasetExample), rows_in[i : i + 1000])
    version.build_seconds = round(time.perf_counter() - started, 3)
    audit.record(
        session,
        actor,
        "dataset.build",
        "dataset_version",
        version.id,
        after={"kind": f.kind, "examples": len(built), "skipped": version.skipped},
        clock=clock,
    )
    session.flush()
    return info(version)


# --- lifecycle -----------------------------------------------------------------------------------
def get_dataset(session: Session, version_id: int) -> DatasetVersion:
    version = session.get(DatasetVersion, version_id)
    if version is None:
        raise NotFound(f"Dataset version {version_id} does not exist; `supportloop dataset list` shows them.")
    return version


def list_datasets(session: Session, *, status: str | None = None, limit: int = 50) -> list[DatasetInfo]:
    """Dataset versions, newest first."""
    q = select(DatasetVersion).order_by(DatasetVersion.id.desc()).limit(limit)
    if status:
        q = q.where(DatasetVersion.status == status)
    return [info(v) for v in session.scalars(q)]


def require_admin(session: Session, actor: Any, permission: str = "launch_finetune") -> str:
    """The name of ``actor`` when it may do ``permission``: a ``core.access.auth.Actor`` or the
    name of an active dashboard account with that right (admins). PermissionDenied otherwise."""
    from core.access.auth import can, require

    if hasattr(actor, "role") and hasattr(actor, "name"):
        return require(actor, permission).name
    if not isinstance(actor, str) or not actor.strip():
        raise PermissionDenied("Say who you are: pass the name of an admin account (--actor NAME).")
    user = session.scalar(select(User).where(User.name == actor.strip()))
    if user is None or not user.active:
        raise PermissionDenied(
            f"{actor!r} is not an active dashboard account. This needs an admin: create one with "
            f"`supportloop user add NAME --role admin`."
        )
    if not can(user.role, permission):
        raise PermissionDenied(
            f"{user.name} is a {user.role}; this needs an admin (the '{permission}' right). Ask an admin "
            f"to run it or to change your role (`supportloop user role {user.name} admin`)."
        )
    return user.name


def dataset_paths(settings: Settings, version: DatasetVersion) -> dict[str, Path]:
    """The JSONL files of a version, checked against their recorded checksums."""
    out = {}
    for split, rel, digest in (
        ("train", version.train_file, version.train_sha256),
        ("validation", version.validation_file, version.validation_sha256),
    ):
        if not rel:
            continue
        path = Path(settings.data_dir) / rel
        if not path.exists():
            raise NotFound(
                f"The {split} file of dataset {version.id} is missing ({path}); rebuild the dataset."
            )
        if _sha256(path) != digest:
            raise Conflict(
                f"The {split} file of dataset {version.id} changed since it was built (checksum mismatch); "
                "rebuild the dataset instead of editing its files."
            )
        out[split] = path
    return out


def _decide(
    session: Session,
    settings: Settings,
    version_id: int,
    actor: Any,
    status: str,
    reason: str | None,
    clock: Clock | None,
) -> DatasetInfo:
    name = require_admin(session, actor, "build_dataset")
    version = get_dataset(session, version_id)
    if version.status != "pending_approval":
        raise Conflict(f"Dataset {version.id} is already {version.status} (by {version.decided_by}).")
    if status == "approved":
        dataset_paths(settings, version)
    before = {"status": version.status}
    version.status = status
    version.decided_by = name
    version.decided_at = (clock or SystemClock()).now()
    version.decision_reason = reason
    audit.record(
        session,
        name,
        f"dataset.{'approve' if status == 'approved' else 'reject'}",
        "dataset_version",
        version.id,
        before=before,
        after={"status": status, "reason": reason},
        clock=clock,
    )
    session.flush()
    return info(version)


def approve_dataset(
    session: Session, settings: Settings, version_id: int, actor: Any, *, clock: Clock | None = None
) -> DatasetInfo:
    """An admin approves a pending dataset (its files must be intact); it may then train."""
    return _decide(session, settings, version_id, actor, "approved", None, clock)


def reject_dataset(
    session: Session,
    settings: Settings,
    version_id: int,
    actor: Any,
    reason: str,
    *,
    clock: Clock | None = None,
) -> DatasetInfo:
    """An admin rejects a pending dataset with a reason; it can never train."""
    if not (reason or "").strip():
        raise ValidationError("Say why the dataset is rejected (reason).")
    return _decide(session, settings, version_id, actor, "rejected", reason.strip(), clock)


def require_approved(version: DatasetVersion) -> None:
    if version.status != "approved":
        raise Conflict(
            f"Dataset {version.id} is {version.status.replace('_', ' ')}; only an approved dataset can be "
            f"used for training. An admin approves it with `supportloop dataset approve {version.id}`."
        )


def export_dataset(session: Session, settings: Settings, version_id: int, dest: Path) -> dict[str, Any]:
    """Copy an approved dataset's JSONL files (checksums verified, every line re-validated) to
    the folder ``dest``. Returns the written paths and validation reports."""
    version = get_dataset(session, version_id)
    require_approved(version)
    paths = dataset_paths(settings, version)
    counter = get_token_counter(settings.finetune_base_model)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"dataset_version_id": version.id, "files": {}}
    for split, path in paths.items():
        report = validate_jsonl(path, counter)
        if not report.ok:
            raise SupportloopError(f"Dataset {version.id} {split} file is invalid: {report.problems[0]}")
        target = dest / f"dataset-{version.id}-{split}.jsonl"
        shutil.copyfile(path, target)
        out["files"][split] = {"path": str(target), "sha256": _sha256(target), **report.as_dict()}
    return out


def examples_of(session: Session, version_id: int) -> dict[str, int]:
    """How many examples of each split a dataset version holds (from its memberships)."""
    q = (
        select(DatasetExample.split, func.count())
        .where(DatasetExample.dataset_version_id == version_id)
        .group_by(DatasetExample.split)
    )
    return {split: n for split, n in session.execute(q)}


# --- examples from outside the review queue ---------------------------------------------------------
def import_examples(
    session: Session,
    records: list[dict],
    scrubber,
    *,
    actor: str,
    source: str = "imported",
    clock: Clock | None = None,
) -> list[int]:
    """Store question/answer records (keys: question, answer, optional intent, tags, channel,
    voice, quality_score, human_verified, led_to_booking) as training examples of ``source``
    imported or generated; both texts are scrubbed on write. Returns the new ids."""
    if source not in ("imported", "generated"):
        raise ValidationError("Examples from outside the review queue are 'imported' or 'generated'.")
    problems = [
        f"record {i + 1}: question and answer are required"
        for i, r in enumerate(records)
        if not str(r.get("question") or "").strip() or not str(r.get("answer") or "").strip()
    ]
    if problems:
        raise ValidationError("; ".join(problems[:5]) + ". Nothing was imported.")
    now = (clock or SystemClock()).now()
    texts = [t for r in records for t in (str(r["question"]), str(r["answer"]))]
    scrubbed = scrubber.scrub_batch(texts)
    ids = []
    for i, r in enumerate(records):
        q, a = scrubbed[2 * i], scrubbed[2 * i + 1]
        ex = TrainingExample(
            question=q.text,
            answer=a.text,
            intent=r.get("intent"),
            source=source,
            human_verified=bool(r.get("human_verified", source == "imported")),
            quality_score=float(r.get("quality_score", 1.0 if source == "imported" else 0.5)),
            rating=r.get("rating"),
            led_to_booking=bool(r.get("led_to_booking", False)),
            channel=r.get("channel"),
            active=True,
            source_message_ids=[],
            tags=list(r.get("tags") or []),
            voice=bool(r.get("voice", r.get("channel") == "phone")),
            created_by=actor,
            created_at=now,
        )
        session.add(ex)
        session.flush()
        ids.append(ex.id)
    audit.record(
        session,
        actor,
        f"training_example.{source}",
        "training_example",
        None,
        after={"count": len(ids), "first_id": ids[0] if ids else None},
        clock=clock,
    )
    return ids


# --- the quarterly build ------------------------------------------------------------------------------
def build_quarterly(
    session: Session, settings: Settings, scrubber, clock: Clock | None = None, *, actor: str = "runner"
) -> dict[str, Any]:
    """Build this quarter's chat dataset (and voice dataset when there are voice examples),
    pending approval. A kind already built this quarter (same name) is skipped."""
    clock = clock or SystemClock()
    now = clock.now()
    quarter = (now.month - 1) // 3 + 1
    out: dict[str, Any] = {}
    for kind in DATASET_KINDS:
        name = f"{now:%Y}-Q{quarter} {kind} (quarterly)"
        existing = session.scalar(select(DatasetVersion.id).where(DatasetVersion.name == name))
        if existing is not None:
            out[kind] = {"status": "exists", "dataset_version_id": existing}
            continue
        try:
            built = build_dataset(
                session,
                settings,
                scrubber,
                filters=DatasetFilters(kind=kind),
                actor=actor,
                name=name,
                clock=clock,
            )
        except ValidationError as exc:
            out[kind] = {"status": "nothing to build", "reason": str(exc)}
            continue
        out[kind] = {
            "status": "built",
            "dataset_version_id": built.id,
            "examples": built.examples,
            "skipped": built.skipped,
        }
    return out


def quarterly_task(ctx) -> dict[str, Any]:  # noqa: ANN001 - core.ops.tasks.TaskContext
    """The job runner's adapter (core.ops.tasks): build the quarter's datasets, pending approval."""
    from core.platform.pii import get_scrubber

    scrubber = get_scrubber(ctx.settings)
    with ctx.session() as s:
        return build_quarterly(s, ctx.settings, scrubber, ctx.clock, actor=ctx.actor)
