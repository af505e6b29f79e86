"""Preflight of a fine-tune: enough examples, a cost estimate, and the quarterly budget.

cost estimate = trained tokens (training file tokens x epochs) x the base model's price per
1M tokens (``finetune_prices_usd_per_1m``). Spend of a quarter = the actual cost of its
finished jobs plus the estimate of its open ones (jobs count in the quarter they were
launched). A launch is refused when the dataset has fewer than ``dataset_min_examples``
examples, the base model has no price, or spend + estimate would pass
``finetune_quarterly_budget_usd``. (Above ``dataset_max_examples`` the builder already samples
deterministically, so a dataset never holds more.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform.config import Settings
from core.platform.models import FINETUNE_OPEN_STATUSES, DatasetVersion, FineTuneJob
from core.platform.statuses import DatasetStatus, FinetuneProvider


@dataclass
class Preflight:
    """The checks before a launch; ``ok`` is False with ``problems`` saying what is missing."""

    dataset_version_id: int
    provider: str
    base_model: str
    examples: int
    min_examples: int
    train_tokens: int
    epochs: int
    estimated_tokens: int
    price_per_1m_usd: float | None
    estimated_cost_usd: float
    tokens_estimated: bool
    quarter: str
    quarter_spent_usd: float
    budget_usd: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def budget_left_usd(self) -> float:
        return round(self.budget_usd - self.quarter_spent_usd, 4)

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "budget_left_usd": self.budget_left_usd}


def quarter_of(when: dt.datetime) -> tuple[str, dt.datetime, dt.datetime]:
    """The calendar quarter of ``when``: label ("2026-Q2"), start and end (naive UTC)."""
    q = (when.month - 1) // 3
    start = dt.datetime(when.year, 3 * q + 1, 1)
    end = dt.datetime(when.year + (q == 3), 1 if q == 3 else 3 * q + 4, 1)
    return f"{when.year}-Q{q + 1}", start, end


def job_cost(job: FineTuneJob) -> float:
    """What a job counts against the budget: its actual cost when known, else its estimate while
    it is open (a failed or cancelled job with no reported cost counts 0)."""
    if job.actual_cost_usd is not None:
        return float(job.actual_cost_usd)
    return float(job.estimated_cost_usd or 0.0) if job.status in FINETUNE_OPEN_STATUSES else 0.0


def quarter_spend(session: Session, now: dt.datetime) -> float:
    """Fine-tune spend of the quarter of ``now``."""
    _, start, end = quarter_of(now)
    jobs = session.scalars(
        select(FineTuneJob).where(FineTuneJob.created_at >= start, FineTuneJob.created_at < end)
    )
    return round(sum(job_cost(j) for j in jobs), 4)


def price_of(settings: Settings, model: str) -> float | None:
    prices = settings.finetune_prices_usd_per_1m or {}
    if model in prices:
        return float(prices[model])
    base = model.split(":")[1] if model.startswith("ft:") else model
    # dated snapshots ("gpt-4o-mini-2024-07-18") take their family's price
    best = max((k for k in prices if base.startswith(k)), key=len, default=None)
    return float(prices[best]) if best else None


def preflight(
    session: Session,
    settings: Settings,
    version: DatasetVersion,
    *,
    provider: str,
    base_model: str,
    epochs: int,
    now: dt.datetime,
) -> Preflight:
    """Run every check; never raises for a failed check (see ``Preflight.problems``)."""
    examples = version.train_examples + version.validation_examples
    label, _, _ = quarter_of(now)
    spent = quarter_spend(session, now)
    price = 0.0 if provider == FinetuneProvider.LOCAL else price_of(settings, base_model)
    est_tokens = version.train_tokens * epochs
    cost = round(est_tokens * (price or 0.0) / 1_000_000, 4)
    p = Preflight(
        dataset_version_id=version.id,
        provider=provider,
        base_model=base_model,
        examples=examples,
        min_examples=settings.dataset_min_examples,
        train_tokens=version.train_tokens,
        epochs=epochs,
        estimated_tokens=est_tokens,
        price_per_1m_usd=price,
        estimated_cost_usd=cost,
        tokens_estimated=version.tokens_estimated,
        quarter=label,
        quarter_spent_usd=spent,
        budget_usd=settings.finetune_quarterly_budget_usd,
    )
    if version.status != DatasetStatus.APPROVED:
        p.problems.append(
            f"dataset {version.id} is {version.status.replace('_', ' ')}: an admin must approve it first "
            f"(`supportloop dataset approve {version.id}`)"
        )
    if examples < settings.dataset_min_examples:
        p.problems.append(
            f"dataset {version.id} has {examples} examples; a fine-tune needs at least "
            f"{settings.dataset_min_examples} ({settings.dataset_min_examples - examples} more approved "
            "answers, then rebuild)"
        )
    if price is None:
        p.problems.append(
            f"no training price for base model {base_model!r}: add it to "
            "SUPPORTLOOP_FINETUNE_PRICES_USD_PER_1M"
        )
    elif spent + cost > settings.finetune_quarterly_budget_usd + 1e-9:
        p.problems.append(
            f"estimated cost ${cost:.2f} ({est_tokens:,} tokens"
            f"{' (estimate)' if version.tokens_estimated else ''}"
            f" x ${price:.2f}/1M) plus ${spent:.2f} already spent in {label} exceeds the quarterly budget of "
            f"${settings.finetune_quarterly_budget_usd:.2f} by "
            f"${spent + cost - settings.finetune_quarterly_budget_usd:.2f}: build a smaller dataset "
            "(--max-examples), use fewer epochs, or raise SUPPORTLOOP_FINETUNE_QUARTERLY_BUDGET_USD"
        )
    return p
