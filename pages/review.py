"""Review queue: held drafts first, then answers to review, one at a time (approve / promote / edit /
reject; the next item follows). Filters by reason, intent, channel and kind within the sidebar's
dates and channel; the true open count in pages of 25; a link opens the conversation."""

import math

import streamlit as st

from core.platform import audit
from core.platform.models import CHANNELS
from core.platform.statuses import ReviewKind, ReviewStatus
from core.review import decisions
from core.review import queue as review
from pages.format import plain, plain_list, table, when
from pages.resources import login_required, query, run_action, scrubber, session, settings
from pages.widgets import filters, link

PAGE_SIZE = 25
ITEM_KEY, POSITION_KEY, PAGE_KEY = "review_item", "review_position", "review_page"
KINDS = {None: "All kinds", ReviewKind.PRESEND: "Held drafts", ReviewKind.REVIEW: "Answers to review"}


def any_(what: str):  # noqa: ANN201 - a format_func
    return lambda v: f"Any {what}" if v is None else plain(v)


user = login_required("review")
f = filters()
st.title(":material/task_alt: Review queue")
c = st.columns(4)
reason = c[0].selectbox("Reason", [None, *review.Reason], key="review_reason", format_func=any_("reason"))
intent = c[1].selectbox("Intent", [None, *query(review.queue_intents)], key="review_intent",
                        format_func=any_("intent"))
if f.channel:  # the sidebar's channel wins; change it there
    channel = c[2].selectbox("Channel", [f.channel], format_func=plain, disabled=True, help="Sidebar")
else:
    channel = c[2].selectbox("Channel", [None, *CHANNELS], key="review_channel", format_func=any_("channel"))
kind = c[3].selectbox("Kind", list(KINDS), format_func=KINDS.get, key="review_kind")
flt = {"kind": kind, "reason": reason, "channel": channel, "intent": intent, "since": f.since,
       "until": f.until}

matching = query(review.count_queue, **flt)
decided = sum(query(review.count_queue, status=s, since=f.since, until=f.until, channel=channel)
              for s in (ReviewStatus.APPROVED, ReviewStatus.EDITED, ReviewStatus.REJECTED))
m = st.columns(4)
m[0].metric("Held drafts waiting", f"{query(review.count_queue, kind=ReviewKind.PRESEND):,}", border=True,
            help="Open held drafts, all dates and channels: replies not sent until approved")
m[1].metric("Answers to review", f"{query(review.count_queue, kind=ReviewKind.REVIEW):,}", border=True,
            help="Open answers to review, all dates and channels")
m[2].metric("Open, matching the filters", f"{matching:,}", border=True)
m[3].metric("Decided", f"{decided:,}", border=True, help="Items queued in the sidebar's dates and decided")
st.caption(f"Queued {f.start:%d %b} – {f.end:%d %b %Y} (sidebar dates) · held drafts first, then the "
           "highest expected value")

pages = max(1, math.ceil(matching / PAGE_SIZE))
st.session_state[PAGE_KEY] = min(st.session_state.get(PAGE_KEY, 1), pages)
page = st.number_input(f"Page (of {pages})", 1, pages, key=PAGE_KEY) if pages > 1 else 1
offset = (page - 1) * PAGE_SIZE
items = query(review.list_queue, **flt, held_first=True, limit=PAGE_SIZE, offset=offset)
ids = [i.id for i in items]
if (position := st.session_state.pop(POSITION_KEY, None)) is not None and ids:  # after a decision
    st.session_state[ITEM_KEY] = ids[min(position, len(ids) - 1)]
if ids and st.session_state.get(ITEM_KEY) not in ids:  # new filters: the first item, set outright
    st.session_state[ITEM_KEY] = ids[0]  # (a dropped key left the browser showing the old item)


def decided_and_next(k: int, message: str) -> None:
    """A decision went through: say so and show the next item (the one now at position ``k``)."""
    st.session_state[POSITION_KEY] = k
    st.toast(message)
    st.rerun()


if not items:
    st.success("Nothing open matches: the queue is empty for these filters. New items come with down "
               "votes, low confidence, escalations, low CSAT, stale chunks.", icon=":material/celebration:")
else:
    st.caption(f"Items {offset + 1}–{offset + len(items)} of {matching:,} open, matching the filters.")
    labels = {i.id: f"{'Held draft' if i.kind == ReviewKind.PRESEND else 'Review'} #{i.id} · "
                    f"{plain(i.channel)} · {plain_list(i.reasons)} · {i.question[:60]}" for i in items}
    item_id = st.selectbox("Item", ids, format_func=labels.get, key=ITEM_KEY)
    k = ids.index(item_id)
    r = items[k]
    card = st.container(border=True)
    if r.kind == ReviewKind.PRESEND:
        card.warning(f"Held draft: not sent to the {plain(r.channel)} customer until approved (delivery: "
                     f"{plain(r.delivery_status or 'none').lower()}).", icon=":material/pause_circle:")
    conf = f" · **Confidence:** {r.confidence:.2f}" if r.confidence is not None else ""
    card.markdown(f"**Why:** {plain_list(r.reasons)}{conf} · **Intent:** {plain(r.intent)} · "
                  f"**Channel:** {plain(r.channel)} · **Queued:** {when(r.created_at)}")
    with card:
        link("pages/conversations.py", f"Open conversation #{r.conversation_id}", ":material/forum:",
             {"conversation": str(r.conversation_id)})
    q, a = card.columns(2)
    q.markdown("**Customer asked**")
    q.text(r.question or "(no question found)")  # customer text: plain, never markdown
    a.markdown("**Assistant answered**")
    a.text(r.answer)

    b = card.columns(4)
    if b[0].button("Approve", type="primary", icon=":material/check:", width="stretch"):
        if run_action("Approve", decisions.approve, r.id, user):
            decided_and_next(k, f"Item #{r.id} approved")
    if b[1].button("Approve + promote to KB", icon=":material/library_add:", width="stretch"):
        if run_action("Promote", decisions.approve, r.id, user, propose_chunk=True):
            decided_and_next(k, f"Item #{r.id} approved and proposed as a KB chunk (live after a refresh)")
    with b[2].popover("Edit", icon=":material/edit:", width="stretch"):
        with st.form(f"edit-{r.id}"):
            text = st.text_area("Answer the customer should get", r.answer, height=160)
            why = st.text_input("Why (kept with the edit)")
            promote = st.checkbox("Also propose it as a KB chunk", value=True)
            if st.form_submit_button("Save edit", type="primary") and run_action(
                "Edit", decisions.edit, r.id, user, text, why, scrubber=scrubber(), propose_chunk=promote
            ):
                decided_and_next(k, f"Item #{r.id} edited")
    with b[3].popover("Reject", icon=":material/delete:", width="stretch"):
        with st.form(f"reject-{r.id}"):
            why = st.text_input("Why is it wrong?")
            if st.form_submit_button("Reject") and run_action("Reject", decisions.reject, r.id, user, why):
                decided_and_next(k, f"Item #{r.id} rejected")

    with st.expander("Audit trail of this item"):
        with session() as s:
            trail = [{"when": a.created_at, "who": a.actor, "action": a.action, "after": a.after}
                     for a in audit.history(s, "review_item", r.id)]
        if trail:
            st.dataframe(table(trail, {"when": "When", "who": "Who", "action": "Action", "after": "Details"}),
                         hide_index=True, width="stretch")
        else:
            st.caption("No actions yet.")

    st.subheader("This page of the queue")
    st.dataframe(table(items, {"id": "#", "kind": "Kind", "channel": "Channel", "reasons": "Why",
                               "intent": "Intent", "expected_value": "Value", "question": "Question",
                               "created_at": "Queued"}), hide_index=True, width="stretch", height=260)

st.subheader("Recently decided")
recent = query(review.list_decided, channel=channel, limit=20)
if recent:
    st.dataframe(table(recent, {"decided_at": "Decided", "status": "Decision", "decided_by": "By",
                                "decision_reason": "Reason given", "channel": "Channel",
                                "question": "Question"}), hide_index=True, width="stretch")
else:
    st.caption("Nothing decided yet.")
if st.button("Scan the last 30 days for new items", icon=":material/search:"):
    added = run_action("Scan", review.refresh_queue, settings(), actor=user)
    if added is not None:
        st.toast(f"{added} item(s) added to the queue")
        st.rerun()
