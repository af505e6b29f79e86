"""Overview: KPI tiles with the change against the previous period (green better, red worse,
grey unchanged), trends by day beside the previous period, the split by channel, and the active
alerts. Every figure covers the sidebar's date range (UTC days) and equals what the metrics API
(/api/v1/ai/metrics/dashboard) returns for it. Refreshes itself every 5 minutes."""

import pandas as pd
import streamlit as st

from core.ops import alerts
from core.ops.dashboard import daily_by_channel, metrics_for_range
from core.platform.errors import SupportloopError
from pages.charts import bars, lines, trends
from pages.figures import KPIS, change, period_text
from pages.format import plain, when
from pages.resources import login_required, query
from pages.widgets import filters, show_error

login_required("view")
st.title(":material/monitoring: Overview")

TILES = (("containment_rate", "csat_avg", "conversion_rate", "frt_p50_s"),  # four a row: labels fit
         ("cost_usd", "conversations", "feedback_rate", "escalation_rate"),
         ("successful_outcome_rate", "bookings", "booking_value_usd", "cost_per_resolution_usd"))
TRENDS = ("containment_rate", "csat_avg", "conversion_rate", "frt_p50_s", "cost_usd", "conversations")
TITLES = {"cost_usd": "Model cost per day", "frt_p50_s": "First response time (median)"}
CHANNEL_KPIS = ("conversations", "containment_rate", "csat_avg", "conversion_rate", "frt_p50_s", "cost_usd")
SHOW = {"critical": st.error, "error": st.error, "warning": st.warning, "info": st.info}


def _alerts_banner() -> None:
    firing = query(alerts.list_alerts, state="firing", limit=20)
    for a in firing[:5]:
        SHOW.get(a["severity"], st.warning)(
            f"**{a['title']}** · {a['message']} · since {when(a['fired_at'], zone=True)}",
            icon=":material/info:" if a["severity"] == "info" else ":material/notification_important:")
    if len(firing) > 5:
        st.caption(f"and {len(firing) - 5} more on the Alerts and jobs page")


def _tiles(d: dict, period: str, before: str) -> None:
    for row in TILES:
        for col, name in zip(st.columns(len(row)), row, strict=True):
            k, v = KPIS[name], d["kpis"][name]
            col.metric(k.label, k.value(v["value"]), **change(k, v["change"]), border=True,
                       help=f"{period}. Previous period ({before}): {k.value(v['previous'])}.")


def _table(rows: list[dict], first: str, label: str, names: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame([{label: plain(r[first]) if r[first] is not None else "none",
                          **{KPIS[n].label: KPIS[n].value(r[n]) for n in names}} for r in rows])


@st.fragment(run_every="5m")
def live() -> None:
    f = filters()
    try:
        d = query(metrics_for_range, start=f.start, end=f.end, channel=f.channel)
    except SupportloopError as exc:
        show_error(exc)
        return
    _alerts_banner()
    period = period_text(d["period"]["start"], d["period"]["end"])
    before = period_text(d["previous_period"]["start"], d["previous_period"]["end"])
    where = f"the {plain(f.channel)} channel" if f.channel else "every channel"
    st.caption(f"**{period}**, {where} (UTC days), compared with the previous period {before} · "
               f"metrics rolled up {when(d['rolled_up_at'], zone=True) if d['rolled_up_at'] else 'never'}")
    if not d["kpis"]["conversations"]["value"]:
        st.info("No conversations in this period. Widen the date range in the sidebar, or load the "
                "demo with `supportloop demo` and let the runner roll up metrics.")
    _tiles(d, period, before)

    st.subheader("Trends by day", help="Solid: this period. Dotted grey: the same day of the period before.")
    current, previous = pd.DataFrame(d["series"]), pd.DataFrame(d["previous_series"])
    panels = [(n, TITLES.get(n, KPIS[n].label), KPIS[n].axis, KPIS[n].kind == "pct") for n in TRENDS]
    st.plotly_chart(trends(current, previous, panels), width="stretch", key="trends")

    per_channel = pd.DataFrame(query(daily_by_channel, start=f.start, end=f.end))
    if f.channel and not per_channel.empty:
        per_channel = per_channel[per_channel["channel"] == f.channel]
    st.subheader("By channel", help=f"{period}, every figure for the whole period.")
    by_channel = d["by_channel"]
    if by_channel:
        st.dataframe(_table(by_channel, "channel", "Channel", CHANNEL_KPIS), hide_index=True, width="stretch")
        pick = st.selectbox("Trend by channel", ("conversations", *TRENDS[:-1]),
                            format_func=lambda n: KPIS[n].label)
        if not per_channel.empty:
            per_channel["channel"] = per_channel["channel"].map(plain)
            if pick == "conversations":
                fig = bars(per_channel, "date", "conversations", color="channel", height=300, x_title="Date",
                           title="Conversations by day and channel", y_title="Conversations")
            else:
                wide = per_channel.pivot_table(index="date", columns="channel", values=pick).reset_index()
                fig = lines(wide, "date", [c for c in wide.columns if c != "date"], height=300,
                            title=f"{KPIS[pick].label} by day and channel", x_title="Date",
                            y_title=KPIS[pick].axis, pct=KPIS[pick].kind == "pct")
            st.plotly_chart(fig, width="stretch")

    a, b = st.columns(2)
    esc = pd.DataFrame(d["escalations_by_reason"])
    if not esc.empty:
        esc["reason"] = esc["reason"].map(plain)
        a.plotly_chart(bars(esc.head(8), "reason", "count", horizontal=True, height=300,
                            title="Handed to a person, by reason", x_title="Reason",
                            y_title="Conversations"), width="stretch")
    dist = d["csat_distribution"]
    csat = pd.DataFrame({"score": [f"{s} / 5" for s in dist], "answers": list(dist.values())})
    b.plotly_chart(bars(csat, "score", "answers", title="CSAT answers by score", height=300,
                        x_title="Score", y_title="Answers"), width="stretch")

    if st.toggle(f"Show the split by intent, model and KB version ({period})", key="splits"):  # drawn on ask
        for key, first, label in (("by_intent", "intent", "Intent"), ("by_model", "model", "Model"),
                                  ("by_kb_version", "kb_version_id", "KB version")):
            st.markdown(f"**{label}**")
            st.dataframe(_table(d[key], first, label, CHANNEL_KPIS), hide_index=True, width="stretch")
    pace = d["training_examples"]
    if pace["approved"] is not None:
        quarter = period_text(pace["quarter_start"], pace["quarter_end"])
        st.progress(min(1.0, pace["approved"] / max(1, pace["target"])),
                    text=f"Approved training examples this quarter ({quarter}): {pace['approved']} of "
                         f"{pace['target']} (the pace says {pace['expected_by_now']:.0f} by now)")


live()
