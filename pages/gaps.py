"""Knowledge gaps: clusters of questions the assistant handles badly (escalated, low
confidence, voted down), with counts and examples, and "write an answer" to propose a chunk."""

import pandas as pd
import streamlit as st

from core.enrichment import gaps
from core.knowledge import chunks as knowledge
from core.ops import queue
from pages.format import plain, when
from pages.jobs_view import live_queue
from pages.resources import login_required, query, run_action

user = login_required("view")


def main() -> None:
    """The page (a function, so that an empty state can return early)."""
    st.title(":material/help_center: Knowledge gaps")
    rows = query(gaps.list_gaps, limit=100)
    m = st.columns(4)
    m[0].metric("Gaps", len(rows), border=True)
    m[1].metric("Questions in gaps", sum(g["question_count"] for g in rows), border=True)
    m[2].metric("Growing", sum(g["trend"] in ("rising", "new") for g in rows), border=True)
    refreshed = rows[0]["refreshed_at"] if rows else None
    m[3].metric("Last clustered", when(refreshed) if refreshed else "never", border=True)

    if user.can("manage_kb") and st.button("Recluster now", icon=":material/refresh:"):
        run = run_action("Recluster", queue.enqueue, "gaps_refresh", {}, actor=user)
        if run is not None:
            st.success(f"Clustering queued as job run #{run.id}: the job runner starts it shortly; "
                       "its progress shows here.")
    live_queue(user, ("gaps_refresh",), key="gaps")
    if not rows:
        st.info("No knowledge gaps: either the assistant handles everything, or the daily clustering has not "
                "run yet (`supportloop gaps refresh`).")
        return

    st.dataframe(
        pd.DataFrame([{"gap": g["label"], "questions": g["question_count"],
                       "conversations": g["conversation_count"],
                       "this week": g["this_week"], "last week": g["last_week"], "trend": plain(g["trend"]),
                       "intent": plain(g["intent"]), "closest KB chunk": g["closest_chunk_id"],
                       "similarity": g["closest_chunk_score"]} for g in rows]),
        hide_index=True, width="stretch", height=300,
    )
    labels = {g["id"]: f"{g['label'][:90]} ({g['question_count']})" for g in rows}
    gap_id = st.selectbox("Gap", list(labels), format_func=labels.get)
    g = next(r for r in rows if r["id"] == gap_id)
    left, right = st.columns(2)
    with left:
        st.markdown("**Example questions** (redacted)")
        for ex in g["examples"]:
            st.text(ex if isinstance(ex, str) else ex.get("text", str(ex)))  # plain, never markdown
        st.caption("Why: " + ", ".join(f"{plain(k).lower()} {v}" for k, v in g["reasons"].items()))
    with right, st.form(f"answer-{gap_id}"):
        st.markdown("**Write an answer**: it becomes a proposed KB chunk, live after the next refresh")
        title = st.text_input("Title", g["label"][:300])
        text = st.text_area("Answer", height=160)
        if st.form_submit_button("Propose chunk", type="primary", disabled=not user.can("manage_kb")):
            chunk = run_action("Propose", knowledge.propose_chunk, text=text, title=title,
                               category=g["intent"], source_type="manual", actor=user)
            if chunk is not None:
                st.success(f"Proposed as chunk #{chunk.id}; the next KB refresh evaluates it.")


main()
