"""Conversations: recent conversations and their redacted transcripts."""

import pandas as pd
import streamlit as st

from core.conversations import count_by_channel, list_conversations, transcript
from core.errors import SupportloopError
from core.models import CHANNELS
from pages.resources import session

st.title("Conversations")

with session() as s:
    counts = count_by_channel(s)
cols = st.columns(len(CHANNELS))
for col, ch in zip(cols, CHANNELS, strict=True):
    col.metric(ch, counts.get(ch, 0))

channel = st.selectbox("Channel", ["all", *CHANNELS])
with session() as s:
    rows = list_conversations(s, channel=None if channel == "all" else channel, limit=200)
if not rows:
    st.info("No conversations yet. Load the demo with `supportloop demo` or import a file.")
    st.stop()
st.dataframe(pd.DataFrame([r.__dict__ for r in rows]), hide_index=True, use_container_width=True)

conv_id = st.number_input("Open conversation", min_value=1, value=rows[0].id, step=1)
try:
    with session() as s:
        for m in transcript(s, int(conv_id)):
            with st.chat_message("user" if m["role"] == "user" else "assistant"):
                st.markdown(f"**{m['role']}** · {m['created_at']:%Y-%m-%d %H:%M}")
                st.text(m["text"])
except SupportloopError as exc:
    st.error(str(exc))
