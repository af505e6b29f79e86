"""Review queue: held drafts (pre-send approval) on top, then answers to review, one at a time
with approve / promote to KB / edit / reject, and the audit trail of each item."""

import pandas as pd
import streamlit as st

from core.platform import audit
from core.review import decisions
from core.review import queue as review
from pages.resources import login_required, query, refresh_data, run_action, scrubber, session, settings

user = login_required("review")
st.title(":material/task_alt: Review queue")

held = query(review.list_queue, kind="presend", status="open", limit=100)
queue = query(review.list_queue, kind="review", status="open", limit=200)
done = query(review.list_queue, status=None, limit=300)
decided = [r for r in done if r.status != "open"]
m = st.columns(4)
m[0].metric("Held drafts waiting", len(held), border=True, help="Replies not sent until approved")
m[1].metric("Answers to review", len(queue), border=True)
m[2].metric("Decided", len(decided), border=True)
m[3].metric("Approved or edited", sum(1 for r in decided if r.status in ("approved", "edited")), border=True)

items = held + queue
if not items:
    st.success("The queue is empty. New items arrive with down votes, low confidence, escalations, "
               "low CSAT and stale chunks.", icon=":material/celebration:")
else:
    labels = {
        r.id: f"{'HELD' if r.kind == 'presend' else 'review'} #{r.id} · {r.channel} · "
              f"value {r.expected_value:.1f} · {r.question[:60]}"
        for r in items
    }
    item_id = st.selectbox("Item (held drafts first, then highest expected value)", list(labels),
                           format_func=labels.get, key="review_item")
    r = next(i for i in items if i.id == item_id)
    card = st.container(border=True)
    if r.kind == "presend":
        card.warning(f"Held draft: not sent to the {r.channel} customer until approved "
                     f"(delivery: {r.delivery_status or 'none'}).", icon=":material/pause_circle:")
    conf = f" · **confidence:** {r.confidence:.2f}" if r.confidence is not None else ""
    card.markdown(f"**Why:** {', '.join(r.reasons)}{conf} · **intent:** {r.intent or '–'} · "
                  f"conversation #{r.conversation_id}")
    q, a = card.columns(2)
    q.markdown("**Customer asked**")
    q.text(r.question or "(no question found)")  # customer text: plain, never markdown
    a.markdown("**Assistant answered**")
    a.text(r.answer)

    b = card.columns(4)
    if b[0].button("Approve", type="primary", icon=":material/check:", width="stretch"):
        if run_action("Approve", decisions.approve, r.id, user):
            st.toast(f"Item #{r.id} approved")
            st.rerun()
    if b[1].button("Approve + promote to KB", icon=":material/library_add:", width="stretch"):
        if run_action("Promote", decisions.approve, r.id, user, propose_chunk=True):
            st.toast(f"Item #{r.id} approved and proposed as a KB chunk (live after the next refresh)")
            st.rerun()
    with b[2].popover("Edit", icon=":material/edit:", width="stretch"):
        with st.form(f"edit-{r.id}"):
            text = st.text_area("Answer the customer should get", r.answer, height=160)
            reason = st.text_input("Why (kept with the edit)")
            promote = st.checkbox("Also propose it as a KB chunk", value=True)
            if st.form_submit_button("Save edit", type="primary") and run_action(
                "Edit", decisions.edit, r.id, user, text, reason, scrubber=scrubber(), propose_chunk=promote
            ):
                st.rerun()
    with b[3].popover("Reject", icon=":material/delete:", width="stretch"):
        with st.form(f"reject-{r.id}"):
            why = st.text_input("Why is it wrong?")
            if st.form_submit_button("Reject") and run_action("Reject", decisions.reject, r.id, user, why):
                st.rerun()

    with st.expander("Audit trail of this item"):
        with session() as s:
            trail = [
                {"when": a.created_at, "who": a.actor, "action": a.action, "after": a.after}
                for a in audit.history(s, "review_item", r.id)
            ]
        if trail:
            st.dataframe(pd.DataFrame(trail), hide_index=True, width="stretch")
        else:
            st.caption("No actions yet.")

st.subheader("Queue")
if items:
    st.dataframe(
        pd.DataFrame([{"id": i.id, "kind": i.kind, "value": i.expected_value, "channel": i.channel,
                       "reasons": ", ".join(i.reasons), "question": i.question, "confidence": i.confidence}
                      for i in items]),
        hide_index=True, width="stretch", height=260,
    )
st.subheader("Recently decided")
if decided:
    st.dataframe(
        pd.DataFrame([{"id": i.id, "status": i.status, "by": i.decided_by, "reason": i.decision_reason,
                       "kind": i.kind, "question": i.question} for i in decided[:100]]),
        hide_index=True, width="stretch",
    )
else:
    st.caption("Nothing decided yet.")
c1, c2 = st.columns([1, 4])
if c1.button("Reload the queue", icon=":material/refresh:"):
    refresh_data()
    st.rerun()
if c2.button("Scan the last 30 days for new items", icon=":material/search:"):
    added = run_action("Scan", review.refresh_queue, settings(), actor=user)
    if added is not None:
        st.toast(f"{added} item(s) added to the queue")
        st.rerun()
