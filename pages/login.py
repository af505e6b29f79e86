"""Log in: the only page an anonymous visitor sees. Failed logins are throttled per user name
and per client (core.access.auth.try_login): the client is the browser's address as Streamlit
sees it (behind a reverse proxy, the address the proxy appended to X-Forwarded-For), else a
random key of this browser session. A successful login asks the router (app.py) to write the
signed session cookie that keeps it across reloads and tabs."""

import ipaddress
import secrets

import streamlit as st

from core.access import auth
from core.platform.errors import SupportloopError
from core.platform.secrets import signing_secret
from pages.resources import AUTH_KEY, settings, transaction

CLIENT_KEY = "login_client"
COOKIE_KEY = "session_cookie"  # app.py writes this value as the session cookie on its next run


def _local(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return address.is_private or address.is_loopback


def client_address() -> str:
    """Who is logging in, as far as the server can tell (the throttle's per-client key)."""
    ip = getattr(st.context, "ip_address", None)  # Streamlit >= 1.45; not a string in AppTest
    ip = ip if isinstance(ip, str) else None
    forwarded = str(st.context.headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
    if ip and forwarded and _local(ip):
        return forwarded  # a reverse proxy on this host or network: the address it saw
    if ip:
        return ip
    if CLIENT_KEY not in st.session_state:
        st.session_state[CLIENT_KEY] = "session:" + secrets.token_hex(8)
    return st.session_state[CLIENT_KEY]


left, mid, right = st.columns([1, 1.2, 1])
with mid:
    st.title(":material/autorenew: supportloop")
    st.caption("The self-learning layer of your support assistant. Log in to continue.")
    with st.form("login", border=True):
        name = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary", width="stretch")
    if submitted:
        try:
            with transaction() as s:  # commits a refusal too: the throttle and audit rows must stay
                result = auth.try_login(
                    s, name.strip(), password, client=client_address(),
                    policy=auth.LoginPolicy.from_settings(settings()), session_hours=settings().session_hours,
                )
        except SupportloopError as exc:
            st.error(str(exc))
        else:
            if isinstance(result, auth.LoginRefused):
                st.error(str(result))
            else:
                st.session_state[AUTH_KEY] = result.token
                st.session_state[COOKIE_KEY] = auth.session_cookie(result, signing_secret(settings()))
                st.rerun()
    st.caption("No account? An admin creates one with `supportloop user add NAME --role viewer`.")
