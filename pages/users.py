"""Users: dashboard accounts, roles and password resets (admins only). A reset or a disabled
account ends that user's logins at once (their session cookies open nothing afterwards)."""

import streamlit as st

from core.access import auth
from core.platform.actors import USER_ROLES
from pages.format import table
from pages.resources import login_required, query, run_action

user = login_required("manage_users")
st.title(":material/group: Users")
st.caption("Viewer: metrics and redacted conversations · Reviewer: also the review queue · "
           "Admin: also KB versions, datasets, fine-tunes, experiments, alert rules, users and raw text")

users = query(auth.list_users)
st.dataframe(table(users, {"name": "Name", "role": "Role", "active": "Active", "created_at": "Created",
                           "last_login_at": "Last login"}), hide_index=True, width="stretch")
names = [u["name"] for u in users if u["name"] != user.name]

left, mid, right = st.columns(3)
with left.form("add-user"):
    st.markdown("**Add a user**")
    name = st.text_input("Name")
    role = st.selectbox("Role", USER_ROLES, index=2, format_func=str.capitalize)
    if st.form_submit_button("Add", type="primary"):
        created = run_action("Add user", auth.create_user, name.strip(), role, actor=user)
        if created:
            st.success(f"{name} added. Password (shown once, pass it on privately): `{created[1]}`")
with mid.form("change-user"):
    st.markdown("**Change a user**")
    who = st.selectbox("User", names)
    new_role = st.selectbox("New role", USER_ROLES, format_func=str.capitalize)
    c1, c2, c3 = st.columns(3)
    set_role = c1.form_submit_button("Set role", disabled=not names)
    disable = c2.form_submit_button("Disable", disabled=not names)
    enable = c3.form_submit_button("Enable", disabled=not names)
    if set_role and run_action("Set role", auth.set_role, who, new_role, actor=user):
        st.rerun()
    if (disable or enable) and run_action("Change", auth.set_active, who, enable, actor=user):
        st.rerun()
with right.form("reset-password", clear_on_submit=True):
    st.markdown("**Reset a password**")
    target = st.selectbox("User", names, key="reset_user")
    chosen = st.text_input("New password (leave empty to generate one)", type="password",
                           help=f"At least {auth.MIN_PASSWORD_CHARS} characters, not a common password")
    if st.form_submit_button("Reset password", disabled=not names):
        new = run_action("Reset password", auth.set_password, target, chosen or None, actor=user)
        if new:
            shown = "the password you typed" if chosen else f"`{new}`"
            st.success(f"Password of {target} reset to {shown}; their open logins have ended.")
