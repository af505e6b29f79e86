"""Users: dashboard accounts and roles (admins only)."""

import pandas as pd
import streamlit as st

from core.access import auth
from core.platform.actors import USER_ROLES
from pages.resources import login_required, query, run_action

user = login_required("manage_users")
st.title(":material/group: Users")
st.caption("viewer: metrics and redacted conversations · reviewer: also the review queue · "
           "admin: also KB versions, datasets, fine-tunes, experiments, alert rules, users and raw text")

users = query(auth.list_users)
st.dataframe(pd.DataFrame(users), hide_index=True, width="stretch")

left, right = st.columns(2)
with left.form("add-user"):
    st.markdown("**Add a user**")
    name = st.text_input("Name")
    role = st.selectbox("Role", USER_ROLES, index=2)
    if st.form_submit_button("Add", type="primary"):
        created = run_action("Add user", auth.create_user, name.strip(), role, actor=user)
        if created:
            st.success(f"{name} added. Password (shown once): `{created[1]}`")
with right.form("change-user"):
    st.markdown("**Change a user**")
    names = [u["name"] for u in users if u["name"] != user.name]
    who = st.selectbox("User", names)
    new_role = st.selectbox("New role", USER_ROLES)
    c1, c2, c3 = st.columns(3)
    set_role = c1.form_submit_button("Set role", disabled=not names)
    disable = c2.form_submit_button("Disable", disabled=not names)
    enable = c3.form_submit_button("Enable", disabled=not names)
    if set_role and run_action("Set role", auth.set_role, who, new_role, actor=user):
        st.rerun()
    if (disable or enable) and run_action("Change", auth.set_active, who, enable, actor=user):
        st.rerun()
