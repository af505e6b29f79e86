"""Progress and cancellation of long work.

Long work (KB refresh, dataset build, fine-tune, gaps, enrichment back-fill, demo load,
experiment analysis) runs as a job in the runner. The job hands the core function a
:class:`Progress`; the function reports how far it is after each committed batch and checks
:meth:`Progress.cancelled` between batches, raising :class:`JobCancelled` to stop cleanly
(what it committed so far stays committed and consistent). Outside a job, :data:`NO_PROGRESS`
reports nothing and is never cancelled.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from core.platform.errors import SupportloopError


class JobCancelled(SupportloopError):
    """Raised by long work that stopped because its job was cancelled."""


@runtime_checkable
class Progress(Protocol):
    def report(self, done: int, total: int | None = None, message: str = "") -> None:
        """``done`` of ``total`` units (``None``: unknown) finished and committed; ``message``
        says what is happening, in plain words."""
        ...

    def cancelled(self) -> bool:
        """Whether an admin asked to cancel; check between batches."""
        ...


class _NoProgress:
    def report(self, done: int, total: int | None = None, message: str = "") -> None:
        return None

    def cancelled(self) -> bool:
        return False


NO_PROGRESS: Progress = _NoProgress()


def check_cancelled(progress: Progress) -> None:
    """Raise :class:`JobCancelled` when ``progress`` says the job was cancelled."""
    if progress.cancelled():
        raise JobCancelled("The job was cancelled; the batches committed so far are kept.")
