"""The admin dashboard (Streamlit): the router. It logs the user in, shows the shared sidebar
filters and the pages their role allows, grouped Monitor / Improve / Operate. Pages live in
pages/ and only lay out widgets and call core.

The login survives a reload and a new tab: pages/login.py asks this router to write a signed,
expiring session cookie (core.access.auth.session_cookie) with a tiny JS component; every new
browser session reads it back from st.context.cookies. Logout, a password reset and disabling the
account revoke the login on the server, so the cookie opens nothing afterwards. Every page has
its own URL (``/review``, ``/users`` ...); opened while logged out, the URL shows the login form
and, after login, the page itself (with its query parameters)."""

import time

import streamlit as st

from core.access import auth
from core.platform.actors import Actor
from core.platform.config import get_settings
from core.platform.secrets import InsecureSecret, check_secret, signing_secret
from pages.format import when
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


COOKIE_KEY = "session_cookie"  # session state: a cookie value to write ("" clears it); pages/login.py
WRITE_COOKIE = st.components.v2.component("supportloop_session_cookie", js="""
export default function ({ data }) {
  if (!data || !data.name) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${data.name}=${data.value}; Path=/; Max-Age=${data.max_age}; SameSite=Strict${secure}`;
}""")


def available(user: Actor) -> dict[str, list[st.Page]]:
    """The pages this user may open, by group (each at its own URL, ``/<name>``)."""
    groups: dict[str, list[st.Page]] = {}
    for group, name, title, icon, right in PAGES:
        if not user.can(right):
            continue
        first = not groups
        groups.setdefault(group, []).append(st.Page(
            f"pages/{name}.py", title=title, icon=f":material/{icon}:", url_path=name, default=first
        ))
    return groups


def login_everywhere() -> list[st.Page]:
    """Logged out: every page URL shows the login form, so a bookmark returns to its page after login."""
    return [st.Page("pages/login.py", title=f"Log in · {title}", icon=":material/lock:", url_path=name,
                    default=i == 0) for i, (_, name, title, _, _) in enumerate(PAGES)]


def write_cookie() -> None:
    """Write (or clear) the session cookie pages/login.py or the logout button asked for."""
    value = st.session_state.pop(COOKIE_KEY, None)
    if value is not None:
        max_age = int(get_settings().session_hours * 3600) if value else 0
        WRITE_COOKIE(data={"name": auth.COOKIE_NAME, "value": value, "max_age": max_age},
                     key=f"cookie-{hash(value)}")


if AUTH_KEY not in st.session_state:  # a new browser session: the login of the session cookie, if any
    token = auth.token_from_cookie(st.context.cookies.get(auth.COOKIE_NAME), signing_secret(get_settings()))
    if token:
        st.session_state[AUTH_KEY] = token
user = current_user()
write_cookie()
if user is None:
    st.navigation(login_everywhere(), position="hidden").run()
    st.stop()

nav = st.navigation(available(user))
with st.sidebar:
    st.markdown(f":material/account_circle: **{user.name}** · {user.role.capitalize()}")
    if user.expires_at:
        st.caption(f"Login valid until {when(user.expires_at, zone=True)}")
    if st.button("Log out", icon=":material/logout:", width="stretch"):
        with transaction() as s:
            auth.logout(s, st.session_state.pop(AUTH_KEY))
        st.session_state[COOKIE_KEY] = ""
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
