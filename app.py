"""The admin dashboard (Streamlit): the router. It logs the user in, shows the shared sidebar
filters and the pages their role allows, grouped Monitor / Improve / Operate. Pages live in
pages/ and only lay out widgets and call core."""

import importlib.util
import time
from pathlib import Path

import streamlit as st

from core.access import auth
from core.platform.actors import Actor
from pages.resources import AUTH_KEY, current_user, transaction
from pages.widgets import sidebar_filters

ROOT = Path(__file__).resolve().parent
st.set_page_config(page_title="supportloop", page_icon=":material/autorenew:", layout="wide")

# (group, page file, title, icon, core module it needs, right it needs)
PAGES = [
    ("Monitor", "overview", "Overview", "monitoring", "core.ops.metrics", "view"),
    ("Monitor", "conversations", "Conversations", "forum", "core.conversations.queries", "view"),
    ("Improve", "review", "Review queue", "task_alt", "core.review.queue", "review"),
    ("Improve", "knowledge", "Knowledge base", "menu_book", "core.knowledge.chunks", "view"),
    ("Improve", "gaps", "Knowledge gaps", "help_center", "core.enrichment.gaps", "view"),
    ("Operate", "training", "Training", "model_training", "core.training.datasets", "view"),
    ("Operate", "experiments", "Experiments", "science", "core.experiments.lifecycle", "view"),
    ("Operate", "alerts", "Alerts and jobs", "notifications_active", "core.ops.alerts", "view"),
    ("Operate", "users", "Users", "group", "core.access.auth", "manage_users"),
]


def available(user: Actor) -> dict[str, list[st.Page]]:
    """The pages this user may open whose page file and core module exist, by group."""
    groups: dict[str, list[st.Page]] = {}
    for group, name, title, icon, module, right in PAGES:
        path = ROOT / "pages" / f"{name}.py"
        if not path.exists() or importlib.util.find_spec(module) is None or not user.can(right):
            continue
        first = not groups
        groups.setdefault(group, []).append(
            st.Page(f"pages/{name}.py", title=title, icon=f":material/{icon}:", default=first)
        )
    return groups


user = current_user()
if user is None:
    login = st.Page("pages/login.py", title="Log in", icon=":material/lock:")
    st.navigation([login], position="hidden").run()
    st.stop()

nav = st.navigation(available(user))
with st.sidebar:
    st.markdown(f":material/account_circle: **{user.name}** · {user.role}")
    if user.expires_at:
        st.caption(f"Login valid until {user.expires_at:%Y-%m-%d %H:%M} UTC")
    if st.button("Log out", icon=":material/logout:", width="stretch"):
        with transaction() as s:
            auth.logout(s, st.session_state.pop(AUTH_KEY))
        st.rerun()
    st.divider()
    sidebar_filters()

started = time.perf_counter()
try:
    nav.run()
finally:  # also after st.stop(): browser tests and bench/dashboard.py wait for this line
    runs = st.session_state["render_runs"] = st.session_state.get("render_runs", 0) + 1
    ms = (time.perf_counter() - started) * 1000
    st.sidebar.caption(f"{nav.title} rendered in {ms:.0f} ms · run {runs}")
