"""Dataset versions: reading them, an admin's approval or rejection, and export.

A dataset version is built by ``core.training.builder`` and left ``pending_approval``. Only
an admin (the ``build_dataset`` right) approves or rejects it (``approve_dataset`` /
``reject_dataset``); only an approved one can be exported (``export_dataset``) or used by a
fine-tune (``core.training.finetune``). Its JSONL files are checked against the checksums
recorded at build time whenever they are used; export also runs the independent PII check
(``core.platform.pii_check``) over every line again and refuses flagged lines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.platform import audit, pii_check
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, NotFound, SupportloopError, ValidationError
from core.platform.models import DatasetExample, DatasetVersion, TrainingExample
from core.platform.services import Scrubber
from core.platform.statuses import DatasetStatus, MessageRole
from core.training.validation import get_token_counter, validate_jsonl

PERMISSION = "build_dataset"


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dataset_dir(settings: Settings) -> Path:
    """The folder dataset versions are written under."""
    return Path(settings.data_dir) / "datasets"


# --- plain results -------------------------------------------------------------------------------
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


# --- reading and approval ------------------------------------------------------------------------
def get_dataset(session: Session, version_id: int) -> DatasetVersion:
    """The dataset version, or NotFound."""
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
        if sha256_of(path) != digest:
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
    actor: Actor,
    status: DatasetStatus,
    reason: str | None,
    clock: Clock | None,
) -> DatasetInfo:
    require(actor, PERMISSION)
    version = get_dataset(session, version_id)
    if version.status != DatasetStatus.PENDING_APPROVAL:
        raise Conflict(f"Dataset {version.id} is already {version.status} (by {version.decided_by}).")
    if status == DatasetStatus.APPROVED:
        dataset_paths(settings, version)
    before = {"status": version.status}
    version.status = status
    version.decided_by = actor.name
    version.decided_at = (clock or SystemClock()).now()
    version.decision_reason = reason
    audit.record(
        session,
        actor.name,
        f"dataset.{'approve' if status == DatasetStatus.APPROVED else 'reject'}",
        "dataset_version",
        version.id,
        before=before,
        after={"status": status, "reason": reason},
        clock=clock,
    )
    session.flush()
    return info(version)


def approve_dataset(
    session: Session, settings: Settings, version_id: int, actor: Actor, *, clock: Clock | None = None
) -> DatasetInfo:
    """An admin approves a pending dataset (its files must be intact); it may then train."""
    return _decide(session, settings, version_id, actor, DatasetStatus.APPROVED, None, clock)


def reject_dataset(
    session: Session,
    settings: Settings,
    version_id: int,
    actor: Actor,
    reason: str,
    *,
    clock: Clock | None = None,
) -> DatasetInfo:
    """An admin rejects a pending dataset with a reason; it can never train."""
    require(actor, PERMISSION)
    if not (reason or "").strip():
        raise ValidationError("Say why the dataset is rejected (reason).")
    return _decide(session, settings, version_id, actor, DatasetStatus.REJECTED, reason.strip(), clock)


def require_approved(version: DatasetVersion) -> None:
    """Conflict unless the dataset version is approved (only those may train)."""
    if version.status != DatasetStatus.APPROVED:
        raise Conflict(
            f"Dataset {version.id} is {version.status.replace('_', ' ')}; only an approved dataset can be "
            f"used for training. An admin approves it with `supportloop dataset approve {version.id}`."
        )


def check_file(session: Session, settings: Settings, version: DatasetVersion, split: str, path: Path) -> None:
    """The independent PII check (``core.platform.pii_check``) over every user and assistant text
    of a dataset file; ValidationError naming each flagged line and entity type unless an admin
    approved those texts."""
    lines = path.read_text(encoding="utf-8").splitlines()
    texts: list[str] = []
    line_of: list[int] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        for m in json.loads(line).get("messages", []):
            if m.get("role") != MessageRole.SYSTEM and isinstance(m.get("content"), str):
                texts.append(m["content"])
                line_of.append(n)
    flagged = pii_check.flagged_texts(session, texts, settings)
    if flagged:
        shown = [pii_check.LineFindings(line_of[f.line - 1], f.text_sha256, f.findings) for f in flagged]
        raise ValidationError(pii_check.refusal_message(
            f"Dataset {version.id} ({split}.jsonl)", shown,
            f"`supportloop pii approve --dataset {version.id} --split {split} --line N` for each line",
        ))


def approve_line(
    session: Session, settings: Settings, version_id: int, split: str, line: int, *, actor: Actor,
    clock: Clock | None = None,
) -> list[str]:
    """An admin approves the user and assistant texts of one line (1-based) of a dataset file
    that the independent PII check flagged, after reading them: the export lets them pass
    (``core.platform.pii_check.approve_text``; ``view_raw`` right). Returns the approved keys."""
    require(actor, pii_check.APPROVE_PERMISSION)
    version = get_dataset(session, version_id)
    paths = dataset_paths(settings, version)
    if split not in paths:
        raise NotFound(f"Dataset {version.id} has no {split} file; it has: {', '.join(paths)}.")
    lines = paths[split].read_text(encoding="utf-8").splitlines()
    if not 1 <= line <= len(lines):
        raise NotFound(
            f"The {split} file of dataset {version.id} has {len(lines)} lines; there is no line {line}."
        )
    texts = [m["content"] for m in json.loads(lines[line - 1]).get("messages", [])
             if m.get("role") != MessageRole.SYSTEM and isinstance(m.get("content"), str)]
    subject = f"dataset {version.id} {split} line {line}"
    return [pii_check.approve_text(session, t, actor=actor, subject=subject, clock=clock) for t in texts]


def approve_example(
    session: Session, example_id: int, scrubber: Scrubber, *, actor: Actor, clock: Clock | None = None
) -> list[str]:
    """An admin approves the question and answer of a training example that the independent PII
    check refused at build time, after reading them (``view_raw`` right): the next build lets
    them pass. Both the stored text and its scrubbed form (what the build writes) are approved."""
    require(actor, pii_check.APPROVE_PERMISSION)
    ex = session.get(TrainingExample, example_id)
    if ex is None:
        raise NotFound(f"Training example {example_id} does not exist.")
    texts = [t for t in (ex.question, ex.answer) if t and t.strip()]
    texts += [r.text for r in scrubber.scrub_batch(texts)]
    subject = f"training example {ex.id}"
    return [pii_check.approve_text(session, t, actor=actor, subject=subject, clock=clock)
            for t in dict.fromkeys(texts)]


def export_dataset(
    session: Session, settings: Settings, version_id: int, dest: Path, *, actor: Actor
) -> dict[str, Any]:
    """Copy an approved dataset's JSONL files (checksums verified, every line re-validated) to
    the folder ``dest`` (``build_dataset`` right). Returns the written paths and validation
    reports."""
    require(actor, PERMISSION)
    version = get_dataset(session, version_id)
    require_approved(version)
    paths = dataset_paths(settings, version)
    counter = get_token_counter(settings.finetune_base_model)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"dataset_version_id": version.id, "files": {}}
    reports = {}
    for split, path in paths.items():
        report = validate_jsonl(path, counter)
        if not report.ok:
            raise SupportloopError(f"Dataset {version.id} {split} file is invalid: {report.problems[0]}")
        check_file(session, settings, version, split, path)
        reports[split] = report
    for split, path in paths.items():
        report = reports[split]
        target = dest / f"dataset-{version.id}-{split}.jsonl"
        partial = target.with_suffix(".jsonl.part")  # a reader never sees a half-written file
        shutil.copyfile(path, partial)
        partial.replace(target)
        out["files"][split] = {"path": str(target), "sha256": sha256_of(target), **report.as_dict()}
    return out


def export_dir(settings: Settings, version_id: int) -> Path:
    """Where the dashboard's export of a dataset version is written (``data_dir/exports/...``)."""
    return Path(settings.data_dir) / "exports" / f"dataset-{int(version_id)}"


def exported_files(settings: Settings, version_id: int) -> dict[str, Path]:
    """The files of a finished export to :func:`export_dir` by split (empty when not exported;
    only ``export_dataset`` writes there, after its checks)."""
    folder = export_dir(settings, version_id)
    out = {}
    for split in ("train", "validation"):
        path = folder / f"dataset-{int(version_id)}-{split}.jsonl"
        if path.exists():
            out[split] = path
    return out


def examples_of(session: Session, version_id: int) -> dict[str, int]:
    """How many examples of each split a dataset version holds (from its memberships)."""
    q = (
        select(DatasetExample.split, func.count())
        .where(DatasetExample.dataset_version_id == version_id)
        .group_by(DatasetExample.split)
    )
    return {split: n for split, n in session.execute(q)}


