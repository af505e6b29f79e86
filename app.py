"""The admin dashboard (Streamlit): the router. It logs the user in, shows the shared sidebar
filters and the pages their role allows, grouped Monitor / Improve / Operate. Pages live in
pages/ and only lay out widgets and call core."""

import time

import streamlit as st

from core.access import auth
from core.platform.actors import Actor
from core.platform.config import get_settings
from core.platform.secrets import InsecureSecret, check_secret
from pages.resources import AUTH_KEY, current_user, transaction
from pages.widgets import sidebar_filters

st.set_page_config(page_title="supportloop", page_icon=":material/autorenew:", layout="wide")
try:  # a known or short link-signing secret stops the dashboard (docs/security.md)
    check_secret(get_settings(), "The dashboard")
except InsecureSecret as exc:
    st.error(str(exc), icon=":material/gpp_bad:")
    st.stop()

# (group, page file, title, icon, right it needs)
PAGES = [
    ("Monitor", "overview", "Overview", "monitoring", "view"),
    ("Monitor", "conversations", "Conversations", "forum", "view"),
    ("Improve", "review", "Review queue", "task_alt", "review"),
    ("Improve", "knowledge", "Knowledge base", "menu_book", "view"),
    ("Improve", "gaps", "Knowledge gaps", "help_center", "view"),
    ("Operate", "training", "Training", "model_training", "view"),
    ("Operate", "experiments", "Experiments", "science", "view"),
    ("Operate", "alerts", "Alerts and jobs", "notifications_active", "view"),
    ("Operate", "users", "Users", "group", "manage_users"),
]


def available(user: Actor) -> dict[str, list[st.Page]]:
    """The pages this user may open, by group."""
    groups: dict[str, list[st.Page]] = {}
    for group, name, title, icon, right in PAGES:
        if not user.can(right):
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
