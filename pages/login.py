"""Log in: the only page an anonymous visitor sees."""

import streamlit as st

from core.access import auth
from core.platform.errors import SupportloopError
from pages.resources import AUTH_KEY, settings, transaction

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
            with transaction() as s:
                login = auth.authenticate(s, name.strip(), password, session_hours=settings().session_hours)
        except SupportloopError as exc:
            st.error(str(exc))
        else:
            st.session_state[AUTH_KEY] = login.token
            st.rerun()
    st.caption("No account? An admin creates one with `supportloop user add NAME --role viewer`.")
