"""A bare Streamlit app for ``bench.dashboard``: two pages that show a title and one line, with
the same "rendered in" line as the dashboard's router, so the benchmark can time Streamlit itself
(navigation, websocket round trip, rendering) in the same run, beside every dashboard page."""

import time

import streamlit as st


def bare() -> None:
    st.title("Bare page")
    st.write("A title and this line: what any Streamlit page costs.")


def bare_2() -> None:
    st.title("Bare page 2")
    st.write("A title and this line: what any Streamlit page costs.")


PAGES = [st.Page(bare, title="Bare page", url_path="bare", default=True),
         st.Page(bare_2, title="Bare page 2", url_path="bare2")]
st.set_page_config(page_title="bare", layout="wide")
nav = st.navigation(PAGES)
started = time.perf_counter()
try:
    nav.run()
finally:
    runs = st.session_state["render_runs"] = st.session_state.get("render_runs", 0) + 1
    ms = (time.perf_counter() - started) * 1000
    st.sidebar.caption(f"{nav.title} rendered in {ms:.0f} ms · run {runs}")
