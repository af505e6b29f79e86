"""How the dashboard writes a metric: its plain label, its unit, a compact value that fits a tile
($346.2k, 82.5 %, 4.31 / 5, 12 s) and the colour of its change (green when better, red when
worse, grey when unchanged; a lower first response time or cost is better). UI only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kpi:
    name: str  # the key in core.ops.metrics.dashboard()["kpis"] and the series rows
    label: str
    kind: str  # pct, score, seconds, usd, count
    lower_is_better: bool = False
    axis: str = ""  # the y-axis title of its trend

    def value(self, value: float | None) -> str:
        return compact(value, self.kind)


KPIS: dict[str, Kpi] = {k.name: k for k in (
    Kpi("conversations", "Conversations", "count", axis="Conversations"),
    Kpi("containment_rate", "Containment", "pct", axis="Contained / closed (%)"),
    Kpi("csat_avg", "CSAT", "score", axis="CSAT (1-5)"),
    Kpi("conversion_rate", "Conversion", "pct", axis="Booked (%)"),
    Kpi("frt_p50_s", "First response (median)", "seconds", True, axis="Seconds"),
    Kpi("frt_p90_s", "First response (p90)", "seconds", True, axis="Seconds"),
    Kpi("cost_usd", "Model cost", "usd", True, axis="US dollars per day"),
    Kpi("cost_per_resolution_usd", "Cost per resolution", "usd", True, axis="US dollars"),
    Kpi("cost_per_conversation_usd", "Cost per conversation", "usd", True, axis="US dollars"),
    Kpi("feedback_rate", "Feedback rate", "pct", axis="With feedback (%)"),
    Kpi("escalation_rate", "Handed to a person", "pct", True, axis="Escalated (%)"),
    Kpi("successful_outcome_rate", "Successful outcomes", "pct", axis="Successful (%)"),
    Kpi("bookings", "Bookings", "count", axis="Bookings"),
    Kpi("booking_value_usd", "Booking value", "usd", axis="US dollars"),
    Kpi("csat_responses", "CSAT answers", "count", axis="Answers"),
)}


def compact(value: float | None, kind: str) -> str:
    """A value short enough for a tile: 1.2k / 3.4M for large numbers, 4 significant digits for
    fractions of a cent."""
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value * 100:.1f} %"
    if kind == "score":
        return f"{value:.2f} / 5"
    if kind == "seconds":
        return f"{value:,.0f} s" if value < 600 else f"{value / 60:,.1f} min"
    if kind == "usd":
        if value and abs(value) < 0.01:
            return f"${value:.2g}" if abs(value) >= 1e-6 else "$0"
        return "$" + _short(value, 2)
    return _short(value, 0)


def _short(value: float, digits: int) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:,.{digits}f}" if digits and value != int(value) else f"{value:,.0f}"


def change(kpi: Kpi, change: float | None) -> dict[str, Any]:
    """``st.metric`` keyword arguments for a change against the previous period: the signed
    difference in the KPI's unit (percentage points for rates), coloured by better or worse;
    zero is a grey 0 with no arrow."""
    if change is None:
        return {"delta": None}
    if change == 0:
        return {"delta": 0, "delta_color": "off", "delta_description": "same as before"}
    if kind_is(kpi, "pct"):
        text = f"{change * 100:+.1f} pts"
    elif kind_is(kpi, "score"):
        text = f"{change:+.2f}"
    else:
        text = ("+" if change > 0 else "-") + compact(abs(change), kpi.kind).replace(" / 5", "")
    return {"delta": text, "delta_color": "inverse" if kpi.lower_is_better else "normal"}


def kind_is(kpi: Kpi, kind: str) -> bool:
    return kpi.kind == kind


def period_text(start: str | dt.date, end: str | dt.date) -> str:
    """``7 Nov – 6 Dec 2026 (30 days)`` for an inclusive range of ISO dates."""
    a, b = (dt.date.fromisoformat(str(d)[:10]) for d in (start, end))
    days = (b - a).days + 1
    left = f"{a:%-d %b}" if a.year == b.year else f"{a:%-d %b %Y}"
    return f"{left} – {b:%-d %b %Y} ({days} day{'s' if days != 1 else ''})"
