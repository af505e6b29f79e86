"""Conversations: full-text search and filters, transcripts redacted by default (raw text for
admins, audited), outcome and feedback, and the way to the review queue."""

import pandas as pd
import streamlit as st

from core.access import auth
from core.conversations.queries import count_by_channel, transcript
from core.ops.dashboard import conversation_detail, find_conversations
from core.platform.errors import SupportloopError
from core.platform.models import CONVERSATION_STATUSES
from pages.resources import login_required, query, session, transaction
from pages.widgets import filters, link, show_error

user = login_required("view")


def main() -> None:
    """The page (a function, so that an empty state can return early)."""
    f = filters()
    st.title(":material/forum: Conversations")
    st.caption(f"{f.start:%d %b} – {f.end:%d %b %Y} · channel: {f.channel or 'all'} (change in the sidebar)")

    counts = query(count_by_channel)
    if counts:
        cols = st.columns(len(counts))
        for col, (ch, n) in zip(cols, sorted(counts.items(), key=lambda kv: -kv[1]), strict=True):
            col.metric(ch, f"{n:,}")

    c1, c2, c3 = st.columns([3, 1, 1])
    search = c1.text_input("Search the redacted text", placeholder="e.g. travel fee, birthday, refund")
    status = c2.selectbox("Status", ["any", *CONVERSATION_STATUSES])
    booked = c3.selectbox("Booking", ["any", "booked", "not booked"])
    try:
        rows = query(
            find_conversations, search=search or None, channel=f.channel,
            status=None if status == "any" else status, since=f.since, until=f.until,
            booked={"any": None, "booked": True, "not booked": False}[booked], limit=300,
        )
    except SupportloopError as exc:
        show_error(exc)
        return
    if not rows:
        st.info("No conversations match. Widen the date range, clear the search, or load the demo "
                "with `supportloop demo`.")
        return

    table = pd.DataFrame([r.__dict__ for r in rows])
    st.dataframe(
        table, hide_index=True, width="stretch", height=320,
        column_config={
            "created_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
            "booked": st.column_config.CheckboxColumn("booked"),
            "csat": st.column_config.NumberColumn("CSAT", format="%d / 5"),
            "first_message": st.column_config.TextColumn("first message", width="large"),
        },
    )
    st.caption(f"{len(rows)} conversation(s) shown (newest first, at most 300).")

    labels = {r.id: f"#{r.id} · {r.channel} · {r.first_message[:70]}" for r in rows}
    conv_id = st.selectbox("Open conversation", list(labels), format_func=labels.get)
    try:
        with session() as s:
            detail = conversation_detail(s, conv_id)
    except SupportloopError as exc:
        show_error(exc)
        return

    st.subheader(f"Conversation #{conv_id}")
    m = st.columns(6)
    m[0].metric("Status", detail["status"])
    m[1].metric("Booked", "yes" if detail["booked"] else "no",
                f"${detail['booking_value_usd']:,.0f}" if detail["booking_value_usd"] else None)
    m[2].metric("CSAT", detail["csat"] or "–")
    m[3].metric("Down votes", detail["down_votes"])
    frt = detail["first_response_time_seconds"]
    m[4].metric("First response", f"{frt:,.0f} s" if frt is not None else "–")
    m[5].metric("Cost", f"${detail['total_cost_usd']:.6f}")
    if detail["escalation_reason"]:
        st.warning("Handed to a human. Reason:", icon=":material/support_agent:")
        st.text(detail["escalation_reason"])  # plain text, never markdown (no links or images fetched)
    for item in detail["reviews"]:
        st.info(f"Review item #{item['id']} ({item['kind']}, {item['status']}): {', '.join(item['reasons'])}")
    if detail["reviews"]:
        link("pages/review.py", "Open the review queue", "✅")

    raw = False
    if user.can("view_raw"):
        raw = st.toggle("Show raw text (every view is written to the audit log)")
    try:
        if raw:
            with transaction() as s:
                auth.record_raw_view(s, user, "conversation", conv_id)
                messages = transcript(s, conv_id, raw=True)
        else:
            with session() as s:
                messages = transcript(s, conv_id)
    except SupportloopError as exc:
        show_error(exc)
        return
    AVATARS = {"agent": ":material/support_agent:", "system": ":material/settings:"}
    VOTES = {"up": ":material/thumb_up:", "down": ":material/thumb_down:"}
    for msg in messages:
        with st.chat_message(msg["role"], avatar=AVATARS.get(msg["role"])):
            votes = detail["votes"].get(msg["id"], {})
            extra = "".join(f" · {VOTES[v]} {n}" for v, n in votes.items())
            conf = f" · confidence {msg['confidence']:.2f}" if msg["confidence"] is not None else ""
            st.caption(f"**{msg['role']}** · {msg['created_at']:%Y-%m-%d %H:%M}{conf}{extra}")
            st.text(msg["text"])


main()
