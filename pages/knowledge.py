"""Knowledge base: chunks with performance and stale flags (edit; proposals: retitle, reject,
archive, why one waits), versions with evaluation reports (refresh now with its outcome and
reason, the next scheduled refresh, activate, roll back) and a search playground that shows
scores. The parts are in pages/knowledge_parts.py."""

import pandas as pd
import streamlit as st

from core.answering import responder
from core.knowledge import versions as kb_versions
from core.knowledge.index import search
from core.ops.dashboard import chunks_with_performance, kb_versions_table
from core.platform.errors import SupportloopError
from core.platform.models import CHUNK_STATUSES
from pages.charts import lines
from pages.knowledge_parts import chunk_editor, refresh_panel, report_view
from pages.resources import embedder, index_cache, login_required, query, run_action, session, settings
from pages.widgets import score_column, show_error

user = login_required("view")
admin = user.can("manage_kb")
st.title(":material/menu_book: Knowledge base")
versions = query(kb_versions_table)
active = next((v for v in versions if v["status"] == "active"), None)
chunks = query(chunks_with_performance)
m = st.columns(5)
m[0].metric("Active version", f"v{active['id']}" if active else "none", border=True)
m[1].metric("Active chunks", sum(c["status"] == "active" for c in chunks), border=True)
m[2].metric("Proposed", sum(c["status"] == "proposed" for c in chunks), border=True,
            help="Approved answers waiting for the next refresh")
m[3].metric("Stale", sum(c["stale"] for c in chunks), border=True, help="Not reviewed for too long")
m[4].metric("hit@1 (active)", f"{active['hit@1']:.1%}" if active and active["hit@1"] is not None else "–",
            border=True)

tab_chunks, tab_versions, tab_search = st.tabs(["Chunks", "Versions", "Search playground"])
with tab_chunks:
    c1, c2, c3 = st.columns([1, 1, 2])
    status = c1.selectbox("Status", ["any", *CHUNK_STATUSES], index=2)
    category = c2.selectbox("Category", ["any", *sorted({c["category"] for c in chunks})])
    stale_only = c3.toggle("Stale only")
    rows = [c for c in chunks if (status == "any" or c["status"] == status)
            and (category == "any" or c["category"] == category) and (not stale_only or c["stale"])]
    table = pd.DataFrame(rows, columns=list(chunks[0]) if chunks else None)
    st.dataframe(
        table.drop(columns=["text"], errors="ignore"),
        hide_index=True, width="stretch", height=360,
        column_config={"score": score_column("score"), "stale": st.column_config.CheckboxColumn("stale")},
    )
    st.caption("Click a column header to sort (score, retrievals, bookings, rating).")
    if rows:
        labels = {c["id"]: f"#{c['id']} · {c['status']} · {c['title'][:70]}" for c in rows}
        cid = st.selectbox("Chunk", list(labels), format_func=labels.get)
        chunk_editor(user, next(r for r in rows if r["id"] == cid))

with tab_versions:
    refresh_panel(user)
    if admin:
        b, c = st.columns([2, 3])
        if b.button("Roll back to the previous version", icon=":material/undo:", disabled=active is None):
            v = run_action("Rollback", kb_versions.rollback, settings(), actor=user)
            if v is not None:
                st.toast(f"Version {v.id} is active again")
                st.rerun()
        others = [v["id"] for v in versions if v["status"] != "active"]
        with c.form("activate", border=False):
            pick = st.selectbox("Activate a version", others, format_func=lambda i: f"v{i}")
            force = st.checkbox("Even if the gate rejected it")
            if st.form_submit_button("Activate", disabled=not others) and run_action(
                "Activate", kb_versions.activate_version, pick, settings(), actor=user, force=force
            ):
                st.rerun()
    if versions:
        table = pd.DataFrame(versions).drop(columns=["report"])
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(c, format="%.3f")
                                    for c in ("hit@1", "hit@5", "mrr", "escalation", "accuracy")})
        trend = table.dropna(subset=["hit@1"]).sort_values("id")
        if len(trend) > 1:
            st.plotly_chart(lines(trend, "id", ["hit@1", "hit@5", "mrr"], title="Evaluation by version",
                                  height=280), width="stretch")
        pick = st.selectbox("Evaluation report of", [v["id"] for v in versions],
                            format_func=lambda i: f"v{i}")
        report_view(next(v for v in versions if v["id"] == pick)["report"])
    else:
        st.info("No KB version yet: import chunks (`supportloop kb import FILE`) and refresh.")

with tab_search:
    q = st.text_input("Ask like a customer would", placeholder="how much is the travel fee to Irvine?")
    k = st.slider("Chunks to retrieve", 1, 20, 5)
    if q:
        try:
            kw = {"embedder": embedder(), "settings": settings(), "index_cache": index_cache()}
            with session() as s:
                ans = responder.answer(s, q, **kw)
                hits = search(s, q, k, **kw)
        except SupportloopError as exc:
            show_error(exc)
        else:
            verdict = "hand off to a human" if ans.escalated else "answer"
            st.markdown(f"**Would {verdict}** (confidence {ans.confidence:.2f}, "
                        f"version v{ans.kb_version_id})")
            st.text(ans.text)
            st.dataframe(
                pd.DataFrame([{"rank": h.rank, "score": h.score, "chunk": h.label, "title": h.title,
                               "category": h.category, "text": h.text} for h in hits]),
                hide_index=True, width="stretch",
                column_config={"score": score_column("score", "%.3f")},
            )
