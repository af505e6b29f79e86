"""Conversations: full-text search and filters within the sidebar's dates and channel, channel
tiles that count exactly the listed conversations, the list in pages of 50 with its total, and one
transcript (redacted by default; raw text for admins, audited). ``?conversation=ID`` opens one."""

import math

import streamlit as st

from core.access import auth
from core.conversations.queries import transcript
from core.ops.dashboard import conversation_detail, count_conversations, find_conversations
from core.platform.errors import SupportloopError
from core.platform.models import CONVERSATION_STATUSES
from pages.format import plain, plain_list, table, when
from pages.resources import login_required, query, session, transaction
from pages.widgets import filters, link, show_error

PAGE_SIZE = 50
user = login_required("view")


def main() -> None:
    """The page (a function, so that an empty state can return early)."""
    f = filters()
    st.title(":material/forum: Conversations")
    c1, c2, c3 = st.columns([3, 1, 1])
    search = c1.text_input("Search the redacted text", placeholder="e.g. travel fee, birthday, refund")
    status = c2.selectbox("Status", [None, *CONVERSATION_STATUSES],
                          format_func=lambda s: plain(s) if s else "Any")
    booked = c3.selectbox("Booking", ["any", "booked", "not booked"], format_func=str.capitalize)
    flt = {"search": search or None, "channel": f.channel, "status": status, "since": f.since,
           "until": f.until, "booked": {"any": None, "booked": True, "not booked": False}[booked]}
    try:
        counts = query(count_conversations, **flt)
    except SupportloopError as exc:
        show_error(exc)
        return
    total = sum(counts.values())
    st.caption(f"Conversations started {f.start:%d %b} – {f.end:%d %b %Y} ({f.days} days, sidebar dates) · "
               f"channel: {plain(f.channel) if f.channel else 'all'} · the tiles count the list below")
    tiles = st.columns(min(len(counts) + 1, 7))
    tiles[0].metric("All channels", f"{total:,}", border=True)
    for col, (ch, n) in zip(tiles[1:], sorted(counts.items(), key=lambda kv: -kv[1]), strict=False):
        col.metric(plain(ch), f"{n:,}", border=True)

    opened = st.query_params.get("conversation")
    opened = int(opened) if opened and opened.isdigit() else None
    if not total:
        st.info("No conversations match. Widen the date range, clear the search, or load the demo "
                "with `supportloop demo`.")
        if opened is None:
            return
    pages = max(1, math.ceil(total / PAGE_SIZE))
    st.session_state["conversations_page"] = min(st.session_state.get("conversations_page", 1), pages)
    page = st.number_input(f"Page (of {pages})", 1, pages, key="conversations_page") if pages > 1 else 1
    rows = query(find_conversations, **flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    if rows:
        st.dataframe(
            table(rows, {"id": "#", "created_at": "Started", "channel": "Channel", "status": "Status",
                         "intent": "Intent", "messages": "Messages", "booked": "Booked", "csat": "CSAT",
                         "first_message": "First message"}),
            hide_index=True, width="stretch", height=320,
        )
    first = (page - 1) * PAGE_SIZE
    st.caption(f"Conversations {first + 1 if rows else 0}–{first + len(rows)} of {total:,} (newest first).")

    labels = {r.id: f"#{r.id} · {plain(r.channel)} · {when(r.created_at)} · {r.first_message[:60]}"
              for r in rows}
    if opened is not None and opened not in labels:  # a link from another page (the review queue)
        labels = {opened: f"#{opened} (opened by link)", **labels}
    ids = list(labels)
    conv_id = st.selectbox("Open conversation", ids, format_func=labels.get,
                           index=ids.index(opened) if opened in ids else 0)
    st.query_params["conversation"] = str(conv_id)  # the address bar opens this one again
    try:
        with session() as s:
            detail = conversation_detail(s, conv_id)
    except SupportloopError as exc:
        show_error(exc)
        return
    show(detail, conv_id)


def show(detail: dict, conv_id: int) -> None:
    """The outcome tiles, review items and transcript of one conversation."""
    st.subheader(f"Conversation #{conv_id} · {plain(detail['channel'])} · {when(detail['created_at'])}")
    m = st.columns(6)
    m[0].metric("Status", plain(detail["status"]))
    m[1].metric("Booked", "yes" if detail["booked"] else "no",
                f"${detail['booking_value_usd']:,.0f}" if detail["booking_value_usd"] else None)
    m[2].metric("CSAT", f"{detail['csat']} / 5" if detail["csat"] else "–")
    m[3].metric("Down votes", detail["down_votes"])
    frt = detail["first_response_time_seconds"]
    m[4].metric("First response", f"{frt:,.0f} s" if frt is not None else "–")
    m[5].metric("Cost", f"${detail['total_cost_usd']:.4f}")
    if detail["escalation_reason"]:
        st.warning("Handed to a person. Reason:", icon=":material/support_agent:")
        st.text(detail["escalation_reason"])  # plain text, never markdown (no links or images fetched)
    for item in detail["reviews"]:
        st.info(f"Review item #{item['id']} ({plain(item['kind']).lower()}, "
                f"{plain(item['status']).lower()}): {plain_list(item['reasons'])}")
    if detail["reviews"]:
        link("pages/review.py", "Open the review queue", ":material/task_alt:")

    raw = user.can("view_raw") and st.toggle("Show raw text (every view is written to the audit log)")
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
    avatars = {"agent": ":material/support_agent:", "system": ":material/settings:"}
    votes_icons = {"up": ":material/thumb_up:", "down": ":material/thumb_down:"}
    for msg in messages:
        with st.chat_message(msg["role"], avatar=avatars.get(msg["role"])):
            votes = detail["votes"].get(msg["id"], {})
            extra = "".join(f" · {votes_icons[v]} {n}" for v, n in votes.items())
            conf = f" · confidence {msg['confidence']:.2f}" if msg["confidence"] is not None else ""
            st.caption(f"**{plain(msg['role'])}** · {when(msg['created_at'])}{conf}{extra}")
            st.text(msg["text"])


main()
