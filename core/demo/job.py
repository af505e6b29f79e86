"""The ``demo_load`` job: loading the demo in the job runner (``core.ops.queue``).

``make run`` and ``supportloop demo --queue`` enqueue it; the runner (``python -m jobs``)
registers :func:`demo_load` as job kind ``demo_load`` and runs it with a
:class:`~core.platform.progress.Progress` that stores the progress on the job run, so the
dashboard shows it and an admin can cancel it. The work is ``core.demo.loader.load_demo``:
committed in short batches, stopping at the next batch when cancelled.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from core.demo.business import SIZES
from core.demo.loader import load_demo
from core.platform.errors import ValidationError
from core.platform.pii import get_scrubber
from core.platform.progress import Progress, check_cancelled

KIND = "demo_load"


def demo_params(params: dict[str, Any]) -> dict[str, Any]:
    """The job's parameters, checked: ``size`` (small | full, default full), ``seed`` (a whole
    number, default the settings'), ``if_empty`` and ``conversations_only`` (true/false)."""
    unknown = sorted(set(params) - {"size", "seed", "if_empty", "conversations_only"})
    if unknown:
        raise ValidationError(f"Unknown demo_load parameter(s): {', '.join(unknown)}; "
                              "known: size, seed, if_empty, conversations_only.")
    size = str(params.get("size", "full"))
    if size not in SIZES:
        raise ValidationError(f"Unknown demo size {size!r}; use one of {', '.join(SIZES)}.")
    seed = params.get("seed")
    if seed is not None:
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            raise ValidationError(f"The demo seed must be a whole number, not {seed!r}.") from None

    def flag(name: str) -> bool:
        value = params.get(name, False)
        if isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValidationError(f"Parameter {name} must be true or false, not {value!r}.")
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    return {"size": size, "seed": seed, "if_empty": flag("if_empty"),
            "conversations_only": flag("conversations_only")}


class _Later:
    """An embedder that is still loading: the first use waits for it."""

    def __init__(self, future: Future):
        self._future = future

    def __getattr__(self, name: str) -> Any:
        return getattr(self._future.result(), name)


def demo_load(ctx: Any, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Load the demo (``params``: see :func:`demo_params`) with progress and cancellation;
    ``ctx`` is a ``core.ops.tasks.TaskContext``. Returns the ``DemoReport`` as a dict."""
    p = demo_params(params)
    progress.report(0, None, "loading the PII scrubber and the embedding model")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-embedder") as pool:
        # the embedding model loads while the conversations are scrubbed and stored
        embedder = None if p["conversations_only"] else _Later(pool.submit(ctx.embedder))
        scrubber = get_scrubber(ctx.settings)
        check_cancelled(progress)
        with ctx.session() as session:
            report = load_demo(session, scrubber, ctx.settings, size=p["size"], seed=p["seed"],
                               clock=ctx.clock, if_empty=p["if_empty"], progress=progress, embedder=embedder)
    out = dataclasses.asdict(report)
    out["summary"] = report.summary()
    return out
