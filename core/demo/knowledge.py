"""The demo knowledge base: its data files and loading it into a database.

- ``demo_kb_entries()``: the chunks of "Ember Grill Hibachi" (core/demo/data/demo_kb.jsonl,
  one price list);
- ``demo_eval_questions()``: golden customer questions with the KB entry that answers them
  (core/demo/data/demo_eval.jsonl), the evaluation set of the knowledge base;
- ``load_demo_knowledge(...)``: imports both and runs a refresh that activates the first KB
  version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.knowledge.chunks import import_chunks
from core.knowledge.evaluation import import_questions
from core.knowledge.refresh import RefreshReport, weekly_refresh
from core.platform.actors import SYSTEM, Actor
from core.platform.clock import Clock
from core.platform.db import commit_batch
from core.platform.models import EvaluationQuestion
from core.platform.services import Embedder
from core.platform.statuses import ChunkSource

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_SOURCE = "demo"  # the ``source`` of the demo evaluation questions


def _read_jsonl(name: str) -> list[dict]:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@lru_cache(maxsize=1)
def _kb() -> tuple[dict, ...]:
    return tuple(_read_jsonl("demo_kb.jsonl"))


def demo_kb_entries() -> list[dict]:
    """The demo knowledge base: ``{external_id, title, text, category}`` per entry."""
    return [dict(e) for e in _kb()]


def demo_eval_questions() -> list[dict]:
    """Golden customer questions: ``{question, expected_external_id}`` per line."""
    return _read_jsonl("demo_eval.jsonl")


def load_demo_knowledge(
    session: Session,
    embedder: Embedder,
    settings,
    clock: Clock | None = None,
    *,
    kb_records: Sequence[dict] | None = None,
    eval_records: Sequence[dict] | None = None,
    actor: Actor = SYSTEM,
) -> RefreshReport:
    """Import the demo KB as active chunks and the demo golden questions as the evaluation
    set, then run a refresh that builds, evaluates and activates the first KB version. Safe to
    run again (chunks are matched by external id; demo questions are added once). Returns the
    RefreshReport."""
    kb_records = demo_kb_entries() if kb_records is None else kb_records
    eval_records = demo_eval_questions() if eval_records is None else eval_records
    import_chunks(
        session, kb_records, actor=actor, source_type=ChunkSource.IMPORTED, file="demo_kb.jsonl", clock=clock
    )
    has_demo_qs = session.scalar(
        select(func.count()).select_from(EvaluationQuestion).where(EvaluationQuestion.source == DEMO_SOURCE)
    )
    if not has_demo_qs:
        import_questions(
            session, eval_records, actor=actor, source=DEMO_SOURCE, file="demo_eval.jsonl", clock=clock
        )
    session.commit()  # before the refresh embeds: no write lock held meanwhile
    return weekly_refresh(session, embedder, settings, clock, actor=actor, reason="demo knowledge base",
                          checkpoint=lambda: commit_batch(session))
