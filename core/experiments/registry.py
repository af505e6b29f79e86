"""The experiment rows: reading them, naming their targets, and writing production's values.

An experiment tests a *candidate* (``{"chat_model": id}``, ``{"kb_version_id": n}`` or
``{"embedding_model_path": folder, "kb_version_id": n}``) against the *control*, what
production served when it started. What production serves (the chat model and embedding
model an experiment promoted) is a row of the ``production_config`` table, read by
``core.answering.routing`` and written here by a promotion or a rollback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform.actors import Actor, require
from core.platform.errors import Conflict, NotFound
from core.platform.models import Experiment, ProductionConfig
from core.platform.statuses import ExperimentKind, ExperimentStatus


def get_experiment(session: Session, experiment_id: int) -> Experiment:
    """The experiment, or NotFound."""
    exp = session.get(Experiment, experiment_id)
    if exp is None:
        raise NotFound(f"Experiment {experiment_id} does not exist; `supportloop experiment status` "
                       "lists them.")
    return exp


def running_experiment(session: Session, experiment_id: int) -> Experiment:
    """The experiment when it is running; Conflict otherwise."""
    exp = get_experiment(session, experiment_id)
    if exp.status != ExperimentStatus.RUNNING:
        raise Conflict(f"Experiment {exp.id} is {exp.status}, not running.")
    return exp


def list_experiments(session: Session, limit: int = 50) -> list[Experiment]:
    """Experiments, newest first."""
    return list(session.scalars(select(Experiment).order_by(Experiment.id.desc()).limit(limit)))


KIND_WORDS = {ExperimentKind.KB_VERSION: "KB version", ExperimentKind.CHAT_MODEL: "Chat model",
              ExperimentKind.EMBEDDING_MODEL: "Embedding model"}


def default_name(kind: str, candidate: dict[str, Any], control: dict[str, Any]) -> str:
    """An experiment's name in plain words, e.g. "KB version: KB v3 vs KB v2"."""
    return f"{KIND_WORDS.get(kind, kind)}: {label(candidate)} vs {label(control)}"


def label(target: dict[str, Any]) -> str:
    """A short human label of a target, e.g. "KB v3" or "model gpt-4o-mini"."""
    parts = []
    if "chat_model" in target:
        parts.append(f"model {target['chat_model']}")
    if "embedding_model_path" in target:
        path = target["embedding_model_path"]
        parts.append(f"embedder {Path(path).name if path else 'bundled MiniLM'}")
    if "kb_version_id" in target:
        parts.append(f"KB v{target['kb_version_id']}")
    return ", ".join(parts) or "production"


def snapshot(exp: Experiment) -> dict[str, Any]:
    """What the audit log keeps of an experiment before and after a change."""
    return {"status": exp.status, "kind": exp.kind, "mode": exp.mode, "share": exp.share,
            "control": exp.control, "candidate": exp.candidate, "decision": exp.decision}


def set_production(session: Session, key: str, value: str, *, actor: Actor, now: dt.datetime,
                   experiment_id: int | None) -> None:
    """Store what production serves for ``key`` (``chat_model``, ``embedding_model_path``);
    ``actor`` needs the ``manage_experiments`` right."""
    require(actor, "manage_experiments")
    actor_name = actor.name
    row = session.get(ProductionConfig, key)
    if row is None:
        session.add(ProductionConfig(key=key, value=value, updated_by=actor_name, updated_at=now,
                                     experiment_id=experiment_id))
    else:
        row.value, row.updated_by, row.updated_at, row.experiment_id = value, actor_name, now, experiment_id
    session.flush()
