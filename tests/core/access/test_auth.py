"""Accounts, logins and their rights (core.access.auth)."""

import datetime as dt

import pytest
from click.testing import CliRunner

from core.access import auth
from core.platform import audit
from core.platform.clock import FixedClock
from core.platform.config import get_settings
from core.platform.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.platform.models import User
from tests.factories import ADMIN, REVIEWER

T0 = dt.datetime(2026, 3, 1, 9, 0)


def test_passwords_are_hashed_with_argon2_and_verified():
    h = auth.hash_password("correct horse")
    assert h.startswith("$argon2id$") and "correct horse" not in h
    assert auth.verify_password(h, "correct horse")
    assert not auth.verify_password(h, "wrong")
    assert not auth.verify_password("not a hash", "x")


def test_create_user_then_login_and_resolve_token(session):
    clock = FixedClock(T0)
    user, pw = auth.create_user(session, "rita", "reviewer", "s3cret-pass-phrase", clock=clock, actor=ADMIN)
    assert pw == "s3cret-pass-phrase" and user.role == "reviewer"
    stored = session.get(User, user.id)
    assert stored.password_hash != pw
    login = auth.authenticate(session, "rita", "s3cret-pass-phrase", session_hours=2, clock=clock)
    session.commit()
    assert login.expires_at == T0 + dt.timedelta(hours=2)
    me = auth.current_user(session, login.token, clock=clock)
    assert me is not None and me.name == "rita" and me.can("review") and not me.can("view_raw")
    assert [a.action for a in audit.history(session, "user", user.id)] == ["create", "login"]


def test_generated_password_when_none_given(session):
    _, pw = auth.create_user(session, "gen", "viewer", actor=ADMIN)
    assert len(pw) >= 16
    assert auth.authenticate(session, "gen", pw).user.name == "gen"


def test_login_expires_and_logout_revokes(session):
    clock = FixedClock(T0)
    auth.create_user(session, "ann", "viewer", "tall-cedar-river-7", clock=clock, actor=ADMIN)
    login = auth.authenticate(session, "ann", "tall-cedar-river-7", session_hours=1, clock=clock)
    clock.advance(minutes=59)
    assert auth.current_user(session, login.token, clock=clock) is not None
    clock.advance(minutes=1)
    assert auth.current_user(session, login.token, clock=clock) is None
    second = auth.authenticate(session, "ann", "tall-cedar-river-7", session_hours=1, clock=clock)
    auth.logout(session, second.token, clock=clock)
    assert auth.current_user(session, second.token, clock=clock) is None
    assert auth.current_user(session, "made-up-token", clock=clock) is None
    assert auth.current_user(session, None) is None


def test_the_session_cookie_is_signed_expires_and_is_revoked_with_the_login(session):
    clock = FixedClock(T0)
    secret = "k" * 16 + "0123456789abcdef"
    auth.create_user(session, "ann", "viewer", "tall-cedar-river-7", clock=clock, actor=ADMIN)
    login = auth.authenticate(session, "ann", "tall-cedar-river-7", session_hours=1, clock=clock)
    cookie = auth.session_cookie(login, secret)
    assert auth.token_from_cookie(cookie, secret, clock=clock) == login.token
    token, expires, mac = cookie.split(".")
    assert auth.token_from_cookie(cookie, "another-secret-0123456789", clock=clock) is None
    assert auth.token_from_cookie(f"{token}.{int(expires) + 3600}.{mac}", secret, clock=clock) is None
    other = "B" if token.endswith("A") else "A"  # one character changed (the token may end in "A")
    assert auth.token_from_cookie(f"{token[:-1]}{other}.{expires}.{mac}", secret, clock=clock) is None
    for junk in (None, "", "a.b", "a.b.c", f"{token}..{mac}"):
        assert auth.token_from_cookie(junk, secret, clock=clock) is None
    clock.advance(minutes=60)
    assert auth.token_from_cookie(cookie, secret, clock=clock) is None  # expired with the login
    clock.advance(minutes=-1)
    still = auth.token_from_cookie(cookie, secret, clock=clock)
    auth.logout(session, still, clock=clock)
    assert auth.current_user(session, still, clock=clock) is None  # a valid signature opens nothing now
    with pytest.raises(ValidationError):
        auth.session_cookie(login, "")


def test_wrong_password_unknown_user_and_disabled_account_are_refused_alike(session):
    auth.create_user(session, "bob", "admin", "tall-cedar-river-7", actor=ADMIN)
    messages = set()
    for name, pw in [("bob", "nope-nope"), ("nobody", "tall-cedar-river-7")]:
        with pytest.raises(PermissionDenied) as exc:
            auth.authenticate(session, name, pw)
        messages.add(str(exc.value))
    login = auth.authenticate(session, "bob", "tall-cedar-river-7")
    auth.set_active(session, "bob", False, actor=ADMIN)
    assert auth.current_user(session, login.token) is None
    with pytest.raises(PermissionDenied) as exc:
        auth.authenticate(session, "bob", "tall-cedar-river-7")
    messages.add(str(exc.value))
    assert len(messages) == 1


def test_validation_and_conflicts(session):
    with pytest.raises(ValidationError, match="role"):
        auth.create_user(session, "x", "superuser", "tall-cedar-river-7", actor=ADMIN)
    with pytest.raises(ValidationError, match="too short"):
        auth.create_user(session, "x", "viewer", "short", actor=ADMIN)
    with pytest.raises(ValidationError):
        auth.create_user(session, " x", "viewer", "tall-cedar-river-7", actor=ADMIN)
    auth.create_user(session, "x", "viewer", "tall-cedar-river-7", actor=ADMIN)
    with pytest.raises(Conflict, match="already exists"):
        auth.create_user(session, "x", "admin", "tall-cedar-river-7", actor=ADMIN)
    with pytest.raises(NotFound):
        auth.set_role(session, "ghost", "admin", actor=ADMIN)


def test_raw_views_are_audited_and_need_admin(session):
    admin, _ = auth.create_user(session, "root", "admin", "tall-cedar-river-7", actor=ADMIN)
    auth.record_raw_view(session, admin, "conversation", 42)
    assert [a.action for a in audit.history(session, "conversation", 42)] == ["view_raw"]
    with pytest.raises(PermissionDenied):
        auth.record_raw_view(session, REVIEWER, "conversation", 42)


def test_set_password_and_role_end_old_logins(session):
    auth.create_user(session, "cy", "viewer", "tall-cedar-river-7", actor=ADMIN)
    login = auth.authenticate(session, "cy", "tall-cedar-river-7")
    new = auth.set_password(session, "cy", actor=ADMIN)
    assert auth.current_user(session, login.token) is None
    auth.set_role(session, "cy", "admin", actor=ADMIN)
    assert auth.authenticate(session, "cy", new).user.role == "admin"


def test_managing_accounts_needs_the_manage_users_right(session):
    auth.create_user(session, "dee", "viewer", "tall-cedar-river-7", actor=ADMIN)
    for change in (
        lambda: auth.create_user(session, "eve", "admin", "tall-cedar-river-7", actor=REVIEWER),
        lambda: auth.set_role(session, "dee", "admin", actor=REVIEWER),
        lambda: auth.set_password(session, "dee", "quiet-harbor-lamp-9", actor=REVIEWER),
        lambda: auth.set_active(session, "dee", False, actor=REVIEWER),
    ):
        with pytest.raises(PermissionDenied, match="manage_users"):
            change()
    (dee,) = auth.list_users(session)
    assert (dee["name"], dee["role"], dee["active"]) == ("dee", "viewer", True)
    assert auth.authenticate(session, "dee", "tall-cedar-river-7").user.name == "dee"


def test_audit_rows_name_the_acting_user(session):
    user, _ = auth.create_user(session, "fay", "viewer", "tall-cedar-river-7", actor=ADMIN)
    auth.set_role(session, "fay", "reviewer", actor=ADMIN)
    assert {a.actor for a in audit.history(session, "user", user.id)} == {ADMIN.name}


def test_ensure_demo_admin_is_idempotent(session):
    pw = auth.ensure_demo_admin(session)
    assert pw and auth.authenticate(session, "admin", pw).user.role == "admin"
    assert auth.ensure_demo_admin(session) is None


def test_user_cli(db, monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    get_settings.cache_clear()
    from cli import main

    runner = CliRunner()
    try:
        r = runner.invoke(main, ["user", "add", "zoe", "--role", "reviewer"])
        assert r.exit_code == 0, r.output
        pw = r.output.split("password: ")[1].strip()
        r = runner.invoke(main, ["user", "add", "zoe", "--role", "viewer", "--password", "tall-cedar-rv-7"])
        assert r.exit_code == 1 and "already exists" in r.output
        r = runner.invoke(main, ["user", "ensure-demo-admin"])
        assert r.exit_code == 0 and "admin / " in r.output
        assert runner.invoke(main, ["user", "ensure-demo-admin"]).output == ""
        r = runner.invoke(main, ["user", "list"])
        assert "zoe" in r.output and "reviewer" in r.output
        assert runner.invoke(main, ["user", "role", "zoe", "admin"]).exit_code == 0
        assert runner.invoke(main, ["user", "disable", "zoe"]).exit_code == 0
        with db.session() as s:
            with pytest.raises(PermissionDenied):
                auth.authenticate(s, "zoe", pw)
    finally:
        get_settings.cache_clear()
