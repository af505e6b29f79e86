"""The login page throttles failed logins (core.access.auth.try_login) and keeps the failures
it refused: the throttle and audit rows are committed although the login failed."""

from sqlalchemy import select

from core.platform.config import get_settings
from core.platform.models import AuditLog, LoginThrottle
from tests.factories.dashboard import button, page, token_for


def _login(at, name: str, password: str):
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    button(at, "Log in").click().run()
    return at


def test_a_failed_login_makes_the_next_try_wait_even_with_the_right_password(app_db, monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_LOGIN_FREE_FAILURES", "1")
    monkeypatch.setenv("SUPPORTLOOP_LOGIN_DELAY_SECONDS", "600")
    get_settings.cache_clear()
    token_for(app_db, "viewer", "vic")
    at = page("login").run()
    assert "Wrong user name or password" in _login(at, "vic", "guess-number-one").error[0].value
    assert "Wrong user name or password" in _login(at, "vic", "guess-number-two").error[0].value
    refused = _login(at, "vic", "password-123").error[0].value  # right password, but must wait
    assert "Too many failed logins" in refused and "auth_token" not in at.session_state
    with app_db.session() as s:
        reasons = [r.after["reason"] for r in s.scalars(
            select(AuditLog).where(AuditLog.action == "login_failed").order_by(AuditLog.id))]
        scopes = sorted(s.scalars(select(LoginThrottle.scope)))
    assert reasons == ["wrong_password", "wrong_password", "throttled"]
    assert scopes == ["client", "name"]  # AppTest has no address: a key of the browser session
