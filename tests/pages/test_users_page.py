from core.access import auth
from core.platform.config import get_settings
from core.platform.secrets import signing_secret
from tests.factories.dashboard import button, page, refused, token_for


def test_only_admins_manage_users(app_db, session):
    assert refused(page("users").run())
    assert refused(page("users", token_for(app_db, "reviewer")).run())


def test_admin_adds_a_user_and_sees_the_password_once(app_db, session):
    at = page("users", token_for(app_db, "admin")).run()
    assert not at.exception
    at.text_input[0].input("newbie")
    button(at, "Add").click().run()
    assert not at.exception
    shown = at.success[0].value
    password = shown.split("`")[1]
    with app_db.session() as s:
        assert auth.authenticate(s, "newbie", password).user.role == "viewer"


def test_login_page_logs_in_and_refuses_wrong_passwords(app_db, session):
    token_for(app_db, "viewer", "vic")
    at = page("login").run()
    at.text_input[0].input("vic")
    at.text_input[1].input("wrong-password")
    button(at, "Log in").click().run()
    assert "Wrong user name or password" in at.error[0].value
    assert "auth_token" not in at.session_state
    at.text_input[1].input("password-123")
    button(at, "Log in").click().run()
    assert not at.exception
    token = at.session_state["auth_token"]
    cookie = at.session_state["session_cookie"]  # app.py writes it into the browser
    assert auth.token_from_cookie(cookie, signing_secret(get_settings())) == token


def test_admin_resets_a_password_and_the_old_logins_end(app_db, session):
    old = token_for(app_db, "viewer", "vic")
    at = page("users", token_for(app_db, "admin")).run()
    form = [t for t in at.text_input if t.label.startswith("New password")][0]
    next(b for b in at.selectbox if b.key == "reset_user").select("vic")
    form.input("short")
    button(at, "Reset password").click().run()
    assert "Reset password failed" in at.error[0].value and "too short" in at.error[0].value
    with app_db.session() as s:
        assert auth.current_user(s, old) is not None  # nothing changed
    next(b for b in at.selectbox if b.key == "reset_user").select("vic")
    button(at, "Reset password").click().run()
    assert not at.exception
    new = at.success[0].value.split("`")[1]
    with app_db.session() as s:
        assert auth.current_user(s, old) is None
        assert auth.authenticate(s, "vic", new).user.name == "vic"
    assert "Created" in at.dataframe[0].value.columns and "created_at" not in at.dataframe[0].value.columns
