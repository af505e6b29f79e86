"""The fine-tuning provider interface: what a provider is asked (``LaunchRequest``, ``JobView``)
and what it answers (``ProviderState``). Providers do one step per call and never wait."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass
class LaunchRequest:
    """What a provider needs to start a fine-tune."""

    job_id: int
    dataset_version_id: int
    base_model: str
    suffix: str | None
    epochs: int
    train_path: Path
    validation_path: Path | None
    hyperparameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobView:
    """The stored state of a job a provider is asked about (plain data)."""

    id: int
    provider_job_id: str | None
    status: str
    base_model: str
    epochs: int
    dataset_version_id: int
    train_path: Path | None
    validation_path: Path | None
    last_event_id: str | None
    result: dict[str, Any]


@dataclass
class ProviderState:
    """A provider's answer: the job's status and whatever it learned."""

    status: str
    provider_job_id: str | None = None
    training_file_id: str | None = None
    validation_file_id: str | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None
    finished_at: dt.datetime | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # new events, oldest first
    result: dict[str, Any] = field(default_factory=dict)
    candidate: bool = True  # offer the model to experiments when it succeeded


class FineTuneProvider(Protocol):
    """One fine-tuning backend. Methods do one step and return; they never wait."""

    name: str

    def submit(self, request: LaunchRequest) -> ProviderState:
        """Start the fine-tune (upload files, create the job)."""
        ...

    def check(self, job: JobView, session: Session) -> ProviderState:
        """The job's current state (and new events since ``job.last_event_id``)."""
        ...

    def cancel(self, job: JobView) -> ProviderState:
        """Ask the provider to stop the job."""
        ...


ProviderFactory = Callable[[str], FineTuneProvider]
