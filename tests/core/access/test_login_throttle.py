"""Login throttling (growing delay, lockout per user name and per client), failed logins in the
audit log, and the password policy (core.access.auth). The clock is injected: minutes of
lockout pass in microseconds."""

import datetime as dt

import pytest
from sqlalchemy import select

from core.access import auth
from core.platform.clock import FixedClock
from core.platform.errors import PermissionDenied, ValidationError
from core.platform.models import AuditLog, LoginThrottle
from tests.factories import ADMIN

T0 = dt.datetime(2026, 3, 1, 9, 0)
GOOD = "tall-cedar-river-7"
POLICY = auth.LoginPolicy(free_failures=2, delay_s=1.0, max_delay_s=4.0, lockout_failures=6,
                          lockout_minutes=15)


@pytest.mark.parametrize(
    ("password", "why"),
    [("12345678", "too short"), ("qwerty123456", "most common"), ("Leave Me Alone", "most common"),
     ("123456789012345", "only digits"), ("abababababab", "different characters"),
     ("my-name-is-nadia-ok", "user name")],
)
def test_weak_passwords_are_refused(session, password, why):
    with pytest.raises(ValidationError, match=why):
        auth.create_user(session, "nadia", "viewer", password, actor=ADMIN)
    auth.create_user(session, "nadia", "viewer", GOOD, actor=ADMIN)
    with pytest.raises(ValidationError, match=why):
        auth.set_password(session, "nadia", password, actor=ADMIN)
    assert auth.password_problem(GOOD) is None and auth.password_problem(auth.generate_password()) is None


def _try(session, clock, name="ann", password="wrong-guess-000", client="203.0.113.9"):
    return auth.try_login(session, name, password, client=client, policy=POLICY, clock=clock)


def test_failures_grow_a_delay_then_lock_the_name_out(session):
    clock = FixedClock(T0)
    auth.create_user(session, "ann", "viewer", GOOD, actor=ADMIN)
    waits = []
    for _ in range(6):
        refused = _try(session, clock, client=None)
        assert isinstance(refused, auth.LoginRefused) and refused.retry_after_s == 0
        waits.append(auth.login_wait(session, "ann", clock=clock))
        if len(waits) < 6:
            clock.advance(seconds=waits[-1])  # wait out the delay, not the lockout
    assert waits == [0, 0, 1, 2, 4, 15 * 60]  # free, free, doubling up to the cap, then lockout
    # locked: even the right password is refused, without being checked, and says how long to wait
    refused = _try(session, clock, password=GOOD, client=None)
    assert isinstance(refused, auth.LoginRefused) and 0 < refused.retry_after_s <= 15 * 60
    assert "try again in" in str(refused)
    clock.advance(minutes=15)
    login = _try(session, clock, password=GOOD, client=None)
    assert isinstance(login, auth.Login) and login.user.name == "ann"
    assert auth.login_wait(session, "ann", clock=clock) == 0  # a success clears the name's failures


def test_one_client_trying_many_names_is_throttled_too(session):
    clock = FixedClock(T0)
    auth.create_user(session, "ann", "viewer", GOOD, actor=ADMIN)
    for i in range(6):  # six different names from one address: each name fails once only
        assert isinstance(_try(session, clock, name=f"guess{i}"), auth.LoginRefused)
        clock.advance(seconds=5)
    refused = _try(session, clock, name="ann", password=GOOD)  # the client is locked out
    assert isinstance(refused, auth.LoginRefused) and refused.retry_after_s > 60
    other = _try(session, clock, name="ann", password=GOOD, client="198.51.100.7")
    assert isinstance(other, auth.Login)  # another client may still log in as ann


def test_failures_are_audited_without_the_password_and_survive_the_commit(db):
    clock = FixedClock(T0)
    with db.session() as s:
        auth.create_user(s, "ann", "viewer", GOOD, actor=ADMIN)
        s.commit()
    for name, pw in (("ann", "secret-guess-1"), ("nobody", "secret-guess-2"), ("ann", "secret-guess-3")):
        with db.session() as s:
            assert isinstance(_try(s, clock, name=name, password=pw), auth.LoginRefused)
            s.commit()
        clock.advance(seconds=0.2)
    with db.session() as s:
        with pytest.raises(PermissionDenied, match="try again in"):  # the client's third failure: a 1 s wait
            auth.authenticate(s, "ann", GOOD, client="203.0.113.9", policy=POLICY, clock=clock)
        s.commit()
        failed = select(AuditLog).where(AuditLog.action == "login_failed").order_by(AuditLog.id)
        rows = list(s.scalars(failed))
        throttle = {(r.scope, r.failures) for r in s.scalars(select(LoginThrottle))}
    assert [(r.actor, r.after["reason"], r.after["client"]) for r in rows] == [
        ("ann", "wrong_password", "203.0.113.9"), ("nobody", "unknown_name", "203.0.113.9"),
        ("ann", "wrong_password", "203.0.113.9"), ("ann", "throttled", "203.0.113.9"),
    ]
    assert not any("secret-guess" in repr((r.before, r.after, r.actor)) for r in rows)
    assert ("name", 2) in throttle and ("client", 3) in throttle and ("name", 1) in throttle


def test_old_failures_are_forgotten(session):
    clock = FixedClock(T0)
    for _ in range(4):
        _try(session, clock)
        clock.advance(seconds=10)
    assert auth.login_wait(session, "ann", clock=clock) == 0  # the 2 s delay has passed
    clock.advance(minutes=16)
    _try(session, clock, name="bob")  # any attempt sweeps rows older than the lockout window
    assert session.scalar(select(LoginThrottle.failures).where(LoginThrottle.scope == "name")) == 1
