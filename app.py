"""The admin dashboard (Streamlit): the router. Pages live in pages/ and only lay out
widgets and call core."""

import streamlit as st

st.set_page_config(page_title="supportloop", page_icon="🔁", layout="wide")

pages = {
    "Monitor": [st.Page("pages/conversations.py", title="Conversations", icon="💬", default=True)],
}
st.navigation(pages).run()
