"""Overview: KPI tiles with the change against the previous period, trends by day and
channel, and the active alerts. Refreshes itself every 5 minutes."""

import pandas as pd
import streamlit as st

from core.ops import alerts
from core.ops.dashboard import daily_by_channel, metrics_for_range
from core.platform.errors import SupportloopError
from pages.charts import bars, lines
from pages.resources import login_required, query
from pages.widgets import filters, show_error

login_required("view")
st.title(":material/monitoring: Overview")

TILES = [  # (kpi, label, format, lower is better)
    ("containment_rate", "Containment", "{:.1%}", False),
    ("csat_avg", "CSAT", "{:.2f} / 5", False),
    ("conversion_rate", "Conversion", "{:.1%}", False),
    ("frt_p50_s", "First response (p50)", "{:,.0f} s", True),
    ("cost_per_resolution_usd", "Cost per resolution", "${:,.6f}", True),
    ("feedback_rate", "Feedback rate", "{:.1%}", False),
]
SECOND = [
    ("conversations", "Conversations", "{:,.0f}", False),
    ("bookings", "Bookings", "{:,.0f}", False),
    ("booking_value_usd", "Booking value", "${:,.0f}", False),
    ("escalation_rate", "Escalation rate", "{:.1%}", True),
    ("successful_outcome_rate", "Successful outcomes", "{:.1%}", False),
    ("frt_p90_s", "First response (p90)", "{:,.0f} s", True),
]
PCT = {"containment_rate", "conversion_rate", "feedback_rate", "escalation_rate", "successful_outcome_rate"}


def _tile(col, kpi: dict, label: str, fmt: str, inverse: bool, name: str) -> None:
    value, change = kpi["value"], kpi["change"]
    shown = fmt.format(value) if value is not None else "–"
    delta = None
    if change is not None:
        sign = "+" if change >= 0 else "-"
        delta = f"{change * 100:+.1f} pts" if name in PCT else sign + fmt.split(" ")[0].format(abs(change))
    col.metric(label, shown, delta, delta_color="inverse" if inverse else "normal", border=True,
               help=f"previous period: {fmt.format(kpi['previous']) if kpi['previous'] is not None else '–'}")


def _alerts_banner() -> None:
    firing = query(alerts.list_alerts, state="firing", limit=20)
    for a in firing[:5]:
        st.error(f"**{a['title']}** · {a['message']} · since {a['fired_at'][:16]} UTC",
                 icon=":material/notification_important:")
    if len(firing) > 5:
        st.caption(f"and {len(firing) - 5} more on the Alerts and jobs page")


@st.fragment(run_every="5m")
def live() -> None:
    f = filters()
    try:
        d = query(metrics_for_range, start=f.start, end=f.end, channel=f.channel)
    except SupportloopError as exc:
        show_error(exc)
        return
    _alerts_banner()
    rolled = (d["rolled_up_at"] or "never")[:16].replace("T", " ")
    st.caption(f"{d['period']['start']} – {d['period']['end']} · channel: {f.channel or 'all'} · "
               f"compared with {d['previous_period']['start']} – {d['previous_period']['end']} · "
               f"metrics rolled up {rolled} UTC")
    if not d["kpis"]["conversations"]["value"]:
        st.info("No conversations in this period. Widen the date range in the sidebar, or load the "
                "demo with `supportloop demo` and let the runner roll up metrics.")
    for row in (TILES, SECOND):
        cols = st.columns(len(row))
        for col, (name, label, fmt, inverse) in zip(cols, row, strict=True):
            _tile(col, d["kpis"][name], label, fmt, inverse, name)

    series = pd.DataFrame(d["series"])
    left, right = st.columns([3, 2])
    per_channel = pd.DataFrame(query(daily_by_channel, start=f.start, end=f.end))
    if f.channel and not per_channel.empty:
        per_channel = per_channel[per_channel["channel"] == f.channel]
    if not per_channel.empty:
        left.plotly_chart(bars(per_channel, "date", "conversations", color="channel",
                               title="Conversations by day and channel"), width="stretch")
    weekly = f.days > 21
    trend = pd.DataFrame(d["weekly"]).rename(columns={"week_start": "date"}) if weekly else series
    right.plotly_chart(lines(trend, "date", ["containment_rate", "conversion_rate", "feedback_rate"],
                             title=f"Rates by {'week' if weekly else 'day'}", pct=True), width="stretch")

    a, b, c = st.columns(3)
    by_channel = pd.DataFrame(d["by_channel"])
    if not by_channel.empty:
        fig = bars(by_channel, "channel", ["containment_rate", "conversion_rate"], stacked=False, pct=True,
                   title="Containment and conversion by channel", height=300)
        a.plotly_chart(fig, width="stretch")
    esc = pd.DataFrame(d["escalations_by_reason"])
    if not esc.empty:
        b.plotly_chart(bars(esc.head(8), "reason", "count", horizontal=True, title="Escalations by reason",
                            height=300), width="stretch")
    dist = d["csat_distribution"]
    csat = pd.DataFrame({"score": list(dist), "responses": list(dist.values())})
    fig = bars(csat, "score", "responses", title="CSAT responses (1-5)", height=300)
    c.plotly_chart(fig, width="stretch")

    with st.expander("By intent, model and KB version"):
        for key, label in (("by_intent", "Intent"), ("by_model", "Model"), ("by_kb_version", "KB version")):
            st.markdown(f"**{label}**")
            st.dataframe(pd.DataFrame(d[key]), hide_index=True, width="stretch")
    pace = d["training_examples"]
    if pace["approved"] is not None:
        st.progress(min(1.0, pace["approved"] / max(1, pace["target"])),
                    text=f"Approved training examples this quarter: {pace['approved']} of {pace['target']} "
                         f"(pace says {pace['expected_by_now']:.0f} by now)")


live()
