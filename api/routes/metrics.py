"""GET /api/v1/ai/metrics/dashboard: the dashboard figures as JSON, for a read API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ClockDep, ReadKey, SessionDep, SettingsDep
from api.schemas import AsciiInt
from core.ops import metrics
from core.platform.statuses import Channel

router = APIRouter(prefix="/api/v1/ai/metrics", tags=["metrics"])


class MetricsError(BaseModel):
    error: str = Field(description="Error class, e.g. InvalidApiKey or PermissionDenied.")
    detail: str | list = Field(description="What was wrong and what to do.")


class MetricsKpis(BaseModel):
    """The KPIs of one set of conversations (None where the denominator is zero)."""

    conversations: int = Field(description="Conversations started in the period.")
    containment_rate: float | None = Field(description="Contained / closed conversations (0-1).")
    escalation_rate: float | None = Field(description="Escalated / all conversations (0-1).")
    csat_avg: float | None = Field(description="Average 1-5 CSAT survey score.")
    csat_responses: int = Field(description="CSAT answers.")
    conversion_rate: float | None = Field(description="Conversations with a booking / conversations.")
    bookings: int
    booking_value_usd: float | None
    frt_p50_s: float | None = Field(description="First response time median, seconds (histogram).")
    frt_p90_s: float | None = Field(description="First response time 90th percentile, seconds.")
    cost_usd: float | None
    cost_per_conversation_usd: float | None
    cost_per_resolution_usd: float | None = Field(description="Cost / contained conversations.")
    feedback_rate: float | None = Field(description="Conversations with any vote or CSAT / conversations.")
    successful_outcome_rate: float | None = Field(
        description="Booked, or contained with no down vote and no CSAT below 4, / conversations."
    )


class MetricsKpiChange(BaseModel):
    value: float | None = Field(description="This period.")
    previous: float | None = Field(description="The previous period of the same length.")
    change: float | None = Field(description="value - previous (rates in fractions: 0.05 = 5 points).")
    change_pct: float | None = Field(description="change / |previous|.")


class MetricsPeriod(BaseModel):
    start: str = Field(description="First day (UTC, ISO date).")
    end: str = Field(description="Last day, included.")


class MetricsDay(MetricsKpis):
    date: str


class MetricsWeek(MetricsKpis):
    week_start: str = Field(description="Monday of the week.")


class MetricsByChannel(MetricsKpis):
    channel: str


class MetricsByIntent(MetricsKpis):
    intent: str | None


class MetricsByModel(MetricsKpis):
    model: str | None


class MetricsByKBVersion(MetricsKpis):
    kb_version_id: int | None = Field(description="KB version active when the conversation started.")


class MetricsEscalations(BaseModel):
    reason: str
    count: int


class MetricsTrainingExamples(BaseModel):
    approved: int | None = Field(description="Approved training examples this quarter (None: no table yet).")
    target: int
    quarter_start: str
    quarter_end: str
    expected_by_now: float = Field(description="Straight-line pace toward the target.")
    behind_by: float | None


class MetricsDashboard(BaseModel):
    days: int
    channel: str | None
    generated_at: str
    rolled_up_at: str | None = Field(description="When the metrics were last rolled up (every 5 minutes).")
    period: MetricsPeriod
    previous_period: MetricsPeriod
    kpis: dict[str, MetricsKpiChange] = Field(description="Every KPI of MetricsKpis with its change.")
    csat_distribution: dict[str, int] = Field(description="CSAT answers per score 1-5.")
    series: list[MetricsDay]
    weekly: list[MetricsWeek]
    by_channel: list[MetricsByChannel]
    by_intent: list[MetricsByIntent]
    by_model: list[MetricsByModel]
    by_kb_version: list[MetricsByKBVersion]
    escalations_by_reason: list[MetricsEscalations]
    training_examples: MetricsTrainingExamples


@router.get(
    "/dashboard",
    response_model=MetricsDashboard,
    responses={401: {"model": MetricsError, "description": "No API key, or an unknown or revoked one."},
               403: {"model": MetricsError, "description": "The API key does not have scope 'read'."},
               422: {"model": MetricsError, "description": "days or channel out of range."}},
    summary="Dashboard metrics",
)
def dashboard(
    _key: ReadKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    days: Annotated[
        AsciiInt, Query(ge=1, le=metrics.MAX_DASHBOARD_DAYS, description="Days back, today included.")
    ] = 7,
    channel: Annotated[Channel | None, Query(description="Only this channel.")] = None,
) -> dict:
    """The dashboard's KPIs (with the change against the previous period), daily and weekly
    series, and splits by channel, intent, model and KB version, read from the metric
    roll-ups (at most 5 minutes old)."""
    return metrics.dashboard(session, days, channel, clock,
                             training_target=settings.training_examples_quarter_target)
