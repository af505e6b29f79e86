"""Building a dataset version: versioned, PII-free OpenAI chat-format JSONL from gold examples.

``build_dataset`` (``supportloop dataset build``, the quarterly task):

1. **select** the training examples of the dataset kind (``chat``: typed channels; ``voice``:
   examples flagged ``voice`` or from the phone channel) and skip, counting the reason, those
   that are inactive, not human verified, below the quality floor, rated below the rating
   floor (CSAT 1-5 of the conversation, a thumbs up counts 5, down 1; unrated pass; an approved
   or edited example is gold by the admin's decision, whatever the customer said about the
   original), a hand-off or apology that answers nothing (``handoff``), without a booking when
   only bookings are wanted, older than ``since``, or outside the intent / tag / source filters;
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
   Before writing, the **independent PII check** (``core.platform.pii_check``, no code shared
   with the scrubber) runs over every final user and assistant text; an example it flags is
   refused (``pii_check``, listed in ``counts["pii_check_refused"]`` with the entity types)
   unless an admin approved that text (``supportloop pii approve --example ID``).

Only an admin approves or rejects a dataset version (``approve_dataset``/``reject_dataset``);
only an approved one can be exported for or used by a fine-tune (``core.training.finetune``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.platform import audit, pii_check
from core.platform.actors import SYSTEM, Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import SupportloopError, ValidationError
from core.platform.models import DATASET_KINDS, DatasetExample, DatasetVersion, Message
from core.platform.near_duplicates import near_duplicates
from core.platform.services import Scrubber
from core.platform.statuses import DatasetKind, DatasetSplit, DatasetStatus, MessageRole
from core.training.datasets import PERMISSION, DatasetInfo, dataset_dir, info, sha256_of
from core.training.selection import (
    SKIP_REASONS,
    DatasetFilters,
    candidates,
    flagged,
    priority,
    skip_reason,
    split_train_validation,
    stratified_sample,
)
from core.training.validation import (
    MAX_EXAMPLE_TOKENS,
    TokenCounter,
    example_problems,
    get_token_counter,
    validate_jsonl,
)
from core.training.voice import clean_spoken, merge_turns

VOICE_CONTEXT_TURNS = 8
_PLACEHOLDER = re.compile(r"(<[A-Z_]+>)")


# --- texts ---------------------------------------------------------------------------------------
def system_prompt(settings: Settings, intent: str | None, kind: str = DatasetKind.CHAT) -> str:
    """The system prompt of one example: the voice prompt, or the base prompt plus the
    intent's prompt when one is configured."""
    if kind == DatasetKind.VOICE:
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



# --- building ------------------------------------------------------------------------------------
def _messages(
    r: dict, texts: dict[str, str], settings: Settings, kind: str, turns: list[tuple[str, str]] | None
) -> list[dict]:
    system = {"role": MessageRole.SYSTEM, "content": system_prompt(settings, r["intent"], kind)}
    if kind == DatasetKind.CHAT:
        return [
            system,
            {"role": MessageRole.USER, "content": texts[r["question"]]},
            {"role": MessageRole.ASSISTANT, "content": texts[r["answer"]]},
        ]
    context = [(role, texts[t]) for role, t in (turns or [(MessageRole.USER, r["question"])])]
    merged = [(role, clean_spoken(text)) for role, text in merge_turns(context)][-VOICE_CONTEXT_TURNS:]
    while merged and merged[0][0] != MessageRole.USER:
        merged.pop(0)
    msgs = [system]
    for role, text in merged:
        m = {"role": role, "content": text}
        if role == MessageRole.ASSISTANT:
            m["weight"] = 0  # earlier answers are context, not gold
        msgs.append(m)
    final = {"role": MessageRole.ASSISTANT, "content": clean_spoken(texts[r["answer"]]), "weight": 1}
    return [*msgs, final]


def _write_jsonl(path: Path, lines: Iterable[dict]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for obj in lines:
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)




def _checked_texts(msgs: list[dict]) -> list[str]:
    return [m["content"] for m in msgs if m["role"] != MessageRole.SYSTEM]


def _independent_check(
    session: Session, settings: Settings, built: list[tuple[dict, list[dict], int]]
) -> tuple[list[tuple[dict, list[dict], int]], list[dict]]:
    """Step 7: the second, independent PII check (``core.platform.pii_check``) over the final
    user and assistant texts; an example with a flagged text that no admin approved is refused."""
    texts = sorted({t for _, msgs, _ in built for t in _checked_texts(msgs)})
    flagged = {texts[f.line - 1]: f for f in pii_check.flagged_texts(session, texts, settings)}
    kept, refused = [], []
    for r, msgs, tokens in built:
        hits = [flagged[t] for t in _checked_texts(msgs) if t in flagged]
        if hits:
            refused.append({"training_example_id": r["id"],
                            "types": sorted({t for h in hits for t in h.types})})
        else:
            kept.append((r, msgs, tokens))
    return kept, refused


def build_dataset(
    session: Session,
    settings: Settings,
    scrubber: Scrubber,
    *,
    filters: DatasetFilters | None = None,
    actor: Actor,
    name: str | None = None,
    clock: Clock | None = None,
    counter: TokenCounter | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> DatasetInfo:
    """Build a dataset version (see the module docstring); it is left pending approval.

    ``scrubber`` is a ``core.platform.pii`` scrubber (``scrub_batch``); ``counter`` defaults to the token
    counter of ``finetune_base_model``; ``progress(stage, done, total)`` is called as it goes.
    Raises ValidationError when no example survives (with the skipped counts). Needs the
    ``build_dataset`` right."""
    require(actor, PERMISSION)
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

    rows = candidates(session, f)
    step("select", len(rows), len(rows))
    kept = []
    for r in rows:
        reason = skip_reason(r, f)
        if reason:
            skipped[reason] += 1
        else:
            kept.append(r)

    flagged_ids = flagged(session, [r["id"] for r in kept if r["message_id"] or r["source_message_ids"]])
    if flagged_ids:
        skipped["flagged"] += len(flagged_ids)
        kept = [r for r in kept if r["id"] not in flagged_ids]
    kept.sort(key=priority)
    twins = near_duplicates(
        [f"{r['question']}\n{r['answer']}" for r in kept], settings.dataset_near_duplicate_similarity
    )
    unique = [r for r, t in zip(kept, twins, strict=True) if t is None]
    skipped["near_duplicate"] += len(kept) - len(unique)
    step("dedupe", len(kept), len(kept))

    sample, over = stratified_sample(unique, f.max_examples, f.seed)
    skipped["over_max"] += len(over)

    # scrub both sides again (and everything else an example's text comes from)
    known = _conversation_pii(session, {r["message_id"] for r in sample if r["message_id"]})
    turns = _voice_turns(session, sample) if f.kind == DatasetKind.VOICE else {}
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
    built, refused = _independent_check(session, settings, built)
    if refused:
        skipped["pii_check"] += len(refused)
    if not built:
        raise ValidationError(
            f"No training example passed the filters ({len(rows)} candidates of kind {f.kind}; skipped: "
            + (", ".join(f"{k} {v}" for k, v in sorted(skipped.items()) if v) or "none")
            + "). Approve answers in the review queue, or loosen the filters."
        )

    by_id = {r["id"]: (msgs, tokens) for r, msgs, tokens in built}
    train, val = split_train_validation([r for r, _, _ in built], f.validation_share, f.seed)
    now = clock.now()
    quarter = (now.month - 1) // 3 + 1
    version = DatasetVersion(
        name=name or f"{now:%Y}-Q{quarter} {f.kind} {now:%Y-%m-%d %H:%M}",
        kind=f.kind,
        status=DatasetStatus.PENDING_APPROVAL,
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
        built_by=actor.name,
        created_at=now,
    )
    session.add(version)
    session.flush()
    folder = dataset_dir(settings) / f"{version.id:05d}-{f.kind}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        files = {}
        for part_name, part in ((DatasetSplit.TRAIN, train), (DatasetSplit.VALIDATION, val)):
            if not part:
                continue
            path = folder / f"{part_name}.jsonl"
            _write_jsonl(path, ({"messages": by_id[r["id"]][0]} for r in part))
            report = validate_jsonl(path, counter)
            if not report.ok:
                raise SupportloopError(
                    f"The written {part_name} file failed validation: "
                    + "; ".join(str(p) for p in report.problems[:5])
                    + ". Nothing was recorded."
                )
            files[part_name] = (path, report)
            step("write", len(part), len(part))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    rel = Path(settings.data_dir)
    version.train_file = str(files["train"][0].relative_to(rel))
    version.train_sha256 = sha256_of(files["train"][0])
    version.train_examples = len(train)
    version.train_tokens = files["train"][1].tokens
    if "validation" in files:
        version.validation_file = str(files["validation"][0].relative_to(rel))
        version.validation_sha256 = sha256_of(files["validation"][0])
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
        "pii_check_refused": refused,
        "stage_seconds": stage_s,
    }
    rows_in = [
        {
            "dataset_version_id": version.id,
            "training_example_id": r["id"],
            "split": part_name,
            "position": i,
            "tokens": by_id[r["id"]][1],
        }
        for part_name, part in ((DatasetSplit.TRAIN, train), (DatasetSplit.VALIDATION, val))
        for i, r in enumerate(part)
    ]
    for i in range(0, len(rows_in), 1000):
        session.execute(insert(DatasetExample), rows_in[i : i + 1000])
    version.build_seconds = round(time.perf_counter() - started, 3)
    audit.record(
        session,
        actor.name,
        "dataset.build",
        "dataset_version",
        version.id,
        after={"kind": f.kind, "examples": len(built), "skipped": version.skipped},
        clock=clock,
    )
    session.flush()
    return info(version)


# --- the quarterly build ------------------------------------------------------------------------------
def build_quarterly(
    session: Session,
    settings: Settings,
    scrubber: Scrubber,
    clock: Clock | None = None,
    *,
    actor: Actor = SYSTEM,
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
