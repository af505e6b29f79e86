"""The OpenAI fine-tuning provider, with the real ``openai`` client.

Endpoints used (as documented by OpenAI): ``POST /v1/files`` (purpose ``fine-tune``),
``POST /v1/fine_tuning/jobs`` (model, training_file, validation_file, suffix, seed and the
supervised method's ``n_epochs``), ``GET /v1/fine_tuning/jobs/{id}``,
``GET /v1/fine_tuning/jobs/{id}/events`` and ``POST /v1/fine_tuning/jobs/{id}/cancel``.
``settings.openai_base_url`` (empty: OpenAI's) and ``settings.openai_api_key`` configure it;
tests point the base URL at a local fake server.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.platform.config import Settings
from core.platform.errors import ProviderError, ValidationError
from core.platform.statuses import FinetuneProvider
from core.training.finetune.provider import JobView, LaunchRequest, ProviderState

EVENTS_PAGE = 50


def _when(ts: int | float | None) -> dt.datetime | None:
    if not ts:
        return None
    return dt.datetime.fromtimestamp(float(ts), dt.UTC).replace(tzinfo=None)


class OpenAIProvider:
    """Fine-tunes at OpenAI (or any server speaking its fine-tuning API)."""

    name = FinetuneProvider.OPENAI

    def __init__(self, settings: Settings, client: Any = None):
        if client is None:
            if not settings.openai_api_key:
                raise ValidationError(
                    "OpenAI fine-tunes need an API key: set SUPPORTLOOP_OPENAI_API_KEY (and "
                    "SUPPORTLOOP_OPENAI_BASE_URL for another endpoint), or launch with --provider local."
                )
            from openai import OpenAI  # reason: the openai client loads only for OpenAI fine-tunes

            client = OpenAI(
                api_key=settings.openai_api_key,
                base_url=settings.openai_base_url or None,
                timeout=settings.finetune_timeout_s,
                max_retries=2,
            )
        self.client = client
        self.seed = settings.dataset_seed

    def _call(self, what: str, fn, *args, **kwargs):  # noqa: ANN001, ANN202
        import openai  # reason: the openai client loads only for OpenAI fine-tunes

        try:
            return fn(*args, **kwargs)
        except openai.APIStatusError as exc:
            raise ProviderError(f"OpenAI {what} failed with HTTP {exc.status_code}: {exc.message}") from exc
        except openai.APIError as exc:  # connection errors, timeouts
            raise ProviderError(
                f"OpenAI {what} failed: {exc}. Check SUPPORTLOOP_OPENAI_BASE_URL and the network; "
                "the next poll retries."
            ) from exc

    def submit(self, request: LaunchRequest) -> ProviderState:
        files = {}
        for split, path in (("training", request.train_path), ("validation", request.validation_path)):
            if path is None:
                continue
            with open(path, "rb") as fh:
                obj = self._call(
                    f"upload of the {split} file",
                    self.client.files.create,
                    file=(f"dataset-{request.dataset_version_id}-{split}.jsonl", fh),
                    purpose="fine-tune",
                )
            files[split] = obj.id
        kwargs: dict[str, Any] = {
            "model": request.base_model,
            "training_file": files["training"],
            "seed": self.seed,
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": request.epochs}}},
        }
        if "validation" in files:
            kwargs["validation_file"] = files["validation"]
        if request.suffix:
            kwargs["suffix"] = request.suffix
        job = self._call("job creation", self.client.fine_tuning.jobs.create, **kwargs)
        state = self._state(job)
        state.training_file_id = files["training"]
        state.validation_file_id = files.get("validation")
        return state

    def _state(self, job: Any) -> ProviderState:
        error = None
        if getattr(job, "error", None) is not None and (job.error.message or job.error.code):
            error = f"{job.error.code or 'error'}: {job.error.message or ''}".strip()
            if job.error.param:
                error += f" (param {job.error.param})"
        return ProviderState(
            status=job.status,
            provider_job_id=job.id,
            fine_tuned_model=job.fine_tuned_model,
            trained_tokens=job.trained_tokens,
            error=error,
            finished_at=_when(job.finished_at),
        )

    def _new_events(self, job_id: str, last_event_id: str | None) -> list[dict]:
        page = self._call("events", self.client.fine_tuning.jobs.list_events, job_id, limit=EVENTS_PAGE)
        new = []
        for ev in page.data:  # newest first
            if ev.id == last_event_id:
                break
            new.append(
                {
                    "id": ev.id,
                    "at": _when(ev.created_at).isoformat() if ev.created_at else None,
                    "level": ev.level,
                    "message": ev.message,
                }
            )
        return list(reversed(new))

    def check(self, job: JobView, session=None) -> ProviderState:  # noqa: ANN001 - session unused
        if not job.provider_job_id:
            raise ProviderError(f"Fine-tune {job.id} has no OpenAI job id; it was never submitted.")
        remote = self._call("status", self.client.fine_tuning.jobs.retrieve, job.provider_job_id)
        state = self._state(remote)
        state.events = self._new_events(job.provider_job_id, job.last_event_id)
        return state

    def cancel(self, job: JobView) -> ProviderState:
        remote = self._call("cancel", self.client.fine_tuning.jobs.cancel, job.provider_job_id)
        return self._state(remote)
