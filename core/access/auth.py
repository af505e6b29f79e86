"""Dashboard accounts, logins and rights.

Local accounts with argon2-hashed passwords and one role each:

- **viewer** sees metrics, conversations (redacted) and reports;
- **reviewer** also works the review queue (approve, edit, reject, promote to KB);
- **admin** also activates and rolls back KB versions, launches dataset builds and
  fine-tunes, promotes experiments, edits alert rules, manages users and sees raw
  (unredacted) text. Every raw-text view is written to the audit log.

A login (``authenticate``) returns a random bearer token; only its SHA-256 is stored, with
an expiry (``Settings.session_hours``). ``current_user`` turns a token back into a user, or
``None`` when it is unknown, expired, revoked or its account is deactivated. The dashboard keeps
the token in a browser cookie (:func:`session_cookie`, read back with :func:`token_from_cookie`):
signed with the signing secret and carrying its expiry, so a tampered or expired cookie is refused
before the database is asked; logout, a password reset and disabling the account revoke it.

Logins are throttled per user name and per client (:class:`LoginPolicy`, settings
``login_*``): after a few free failures each further try must wait a growing delay, and too
many failures lock the name or client out for a while. Every failed or refused login is in
the audit log (the name and client, never the password). Passwords follow
:func:`password_problem`: at least 12 characters and not a common password.
Creating and changing accounts needs the ``manage_users`` right (the acting user is an
:class:`~core.platform.actors.Actor`; audit rows keep its name).
None of these functions commit: the caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.platform import audit
from core.platform.actors import SYSTEM, USER_ROLES, Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.platform.models import LoginThrottle, User, UserSession
from core.platform.statuses import UserRole

DEMO_ADMIN = "admin"
DEMO = dataclasses.replace(SYSTEM, name="demo")  # who creates the demo admin (audit rows say "demo")
MIN_PASSWORD_CHARS = 12
NAME_SCOPE, CLIENT_SCOPE = "name", "client"


_hasher = PasswordHasher()


@dataclass(frozen=True)
class Login:
    """A successful login: the bearer token (shown once) and who it belongs to."""

    token: str
    user: Actor
    expires_at: dt.datetime


def _clock(clock: Clock | None) -> Clock:
    return clock or SystemClock()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; different every call)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password that is easy to copy (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (zxcvbn's list, from leaked-password corpora), lower case."""
    # loaded on first use: a 30,000-entry table only password changes need
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, name: str = "") -> str | None:
    """Why ``password`` is not allowed for account ``name``, or None. The rule: at least
    :data:`MIN_PASSWORD_CHARS` characters; not one of the most common passwords (case and spaces
    ignored); not containing the user name; not only digits; at least 5 different characters."""
    folded = password.lower()
    if len(password) < MIN_PASSWORD_CHARS:
        return f"it is too short: use at least {MIN_PASSWORD_CHARS} characters"
    if folded in common_passwords() or folded.replace(" ", "") in common_passwords():
        return "it is one of the most common passwords, which attackers try first"
    if name and len(name) >= 3 and name.lower() in folded:
        return "it contains the user name"
    if password.isdigit():
        return "it is only digits"
    if len(set(folded)) < 5:
        return "it repeats too few different characters"
    return None


def _validate(name: str, role: str, password: str | None) -> None:
    if not name or not name.strip() or len(name) > 100 or name != name.strip():
        raise ValidationError("A user name must be 1-100 characters without leading or trailing spaces.")
    if role not in USER_ROLES:
        raise ValidationError(f"Unknown role {role!r}; use one of {', '.join(USER_ROLES)}.")
    problem = None if password is None else password_problem(password, name)
    if problem:
        raise ValidationError(
            f"This password is not allowed: {problem}. Use a passphrase of {MIN_PASSWORD_CHARS} or more "
            "characters (or leave it out to get a generated one)."
        )


def create_user(
    session: Session,
    name: str,
    role: str,
    password: str | None = None,
    *,
    actor: Actor,
    clock: Clock | None = None,
) -> tuple[Actor, str]:
    """Create an account; returns it and its password (generated when ``password`` is None).
    ``actor`` needs the ``manage_users`` right."""
    require(actor, "manage_users")
    _validate(name, role, password)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"A user named {name!r} already exists; pick another name or change its role.")
    password = password or generate_password()
    now = _clock(clock).now()
    user = User(name=name, role=role, password_hash=hash_password(password), active=True, created_at=now)
    session.add(user)
    session.flush()
    audit.record(session, actor.name, "create", "user", user.id, after={"name": name, "role": role},
                 clock=clock)
    return Actor(user.id, user.name, user.role), password


def _user_by_name(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"No user named {name!r}. List them with `supportloop user list`.")
    return user


def actor_for(session: Session, name: str) -> Actor:
    """The acting user for an existing, active account ``name`` (the command line's ``--actor``).

    Shell access to the host is trusted: the CLI acts as the named account without a password,
    but only for an account that exists and is active, and only within that account's role.
    """
    user = _user_by_name(session, name)
    if not user.active:
        raise PermissionDenied(f"The account {name!r} is deactivated; ask an admin to reactivate it.")
    return Actor(user.id, user.name, user.role)


def set_role(session: Session, name: str, role: str, *, actor: Actor, clock: Clock | None = None) -> None:
    """Change a user's role (audited; ``actor`` needs the ``manage_users`` right)."""
    require(actor, "manage_users")
    _validate(name, role, None)
    user = _user_by_name(session, name)
    before = user.role
    user.role = role
    audit.record(session, actor.name, "set_role", "user", user.id, before={"role": before},
                 after={"role": role}, clock=clock)


def set_password(
    session: Session, name: str, password: str | None = None, *, actor: Actor, clock: Clock | None = None
) -> str:
    """Replace a user's password and end their sessions; returns the new password. ``actor``
    needs the ``manage_users`` right."""
    require(actor, "manage_users")
    _validate(name, USER_ROLES[0], password)
    user = _user_by_name(session, name)
    password = password or generate_password()
    user.password_hash = hash_password(password)
    _revoke_all(session, user.id, _clock(clock).now())
    audit.record(session, actor.name, "set_password", "user", user.id, clock=clock)
    return password


def set_active(
    session: Session, name: str, active: bool, *, actor: Actor, clock: Clock | None = None
) -> None:
    """Enable or disable an account; disabling ends its sessions at once. ``actor`` needs the
    ``manage_users`` right."""
    require(actor, "manage_users")
    user = _user_by_name(session, name)
    user.active = active
    if not active:
        _revoke_all(session, user.id, _clock(clock).now())
    audit.record(session, actor.name, "activate" if active else "deactivate", "user", user.id, clock=clock)


def _revoke_all(session: Session, user_id: int, now: dt.datetime) -> None:
    for s in session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    ):
        s.revoked_at = now


def list_users(session: Session) -> list[dict]:
    """Every account (name, role, active, created, last login), by name."""
    return [
        {"name": u.name, "role": u.role, "active": u.active, "created_at": u.created_at,
         "last_login_at": u.last_login_at}
        for u in session.scalars(select(User).order_by(User.name))
    ]


@dataclass(frozen=True)
class LoginPolicy:
    """How failed logins slow down further tries, per user name and per client (settings
    ``login_*``): ``free_failures`` cost nothing; each failure after them makes the next try wait
    ``delay_s``, doubling up to ``max_delay_s``; ``lockout_failures`` lock the name or client for
    ``lockout_minutes``. Failures older than ``lockout_minutes`` are forgotten."""

    free_failures: int = 3
    delay_s: float = 2.0
    max_delay_s: float = 120.0
    lockout_failures: int = 10
    lockout_minutes: float = 15.0

    @classmethod
    def from_settings(cls, settings: Any) -> LoginPolicy:
        return cls(settings.login_free_failures, settings.login_delay_seconds,
                   settings.login_max_delay_seconds, settings.login_lockout_failures,
                   settings.login_lockout_minutes)

    def wait_after(self, failures: int) -> dt.timedelta:
        """How long the next try must wait after ``failures`` recent failures."""
        if failures >= self.lockout_failures:
            return dt.timedelta(minutes=self.lockout_minutes)
        extra = failures - self.free_failures
        if extra <= 0:
            return dt.timedelta(0)
        return dt.timedelta(seconds=min(self.delay_s * 2 ** (extra - 1), self.max_delay_s))


class LoginRefused(PermissionDenied):
    """A login was refused: wrong name or password, a disabled account, or too many failures
    (``retry_after_s`` > 0: wait that long before the next try)."""

    def __init__(self, message: str, retry_after_s: int = 0):
        super().__init__(message)
        self.retry_after_s = retry_after_s


WRONG = "Wrong user name or password (or the account is disabled)."


def _key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _throttle_keys(name: str, client: str | None) -> list[tuple[str, str]]:
    keys = [(NAME_SCOPE, _key(name.strip().lower()))]
    if client:
        keys.append((CLIENT_SCOPE, _key(str(client))))
    return keys


def _rows(session: Session, keys: list[tuple[str, str]], now: dt.datetime) -> list[LoginThrottle]:
    """The throttle rows of ``keys``, created when missing and locked for this transaction."""
    table = LoginThrottle.__table__
    values = [{"scope": sc, "key": k, "failures": 0, "last_failure_at": now} for sc, k in keys]
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    session.execute(dialect.insert(table).values(values).on_conflict_do_nothing())
    q = select(LoginThrottle).where(
        LoginThrottle.scope.in_([sc for sc, _ in keys]), LoginThrottle.key.in_([k for _, k in keys])
    ).with_for_update()
    wanted = set(keys)
    return [r for r in session.scalars(q.execution_options(populate_existing=True))
            if (r.scope, r.key) in wanted]


def login_wait(session: Session, name: str, client: str | None = None, *,
               clock: Clock | None = None) -> int:
    """Seconds before ``name`` (from ``client``) may try to log in again (0: now)."""
    now = _clock(clock).now()
    waits = [0.0]
    for sc, k in _throttle_keys(name, client):
        row = session.get(LoginThrottle, (sc, k))
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            waits.append((row.blocked_until - now).total_seconds())
    return int(-(-max(waits) // 1))


def try_login(
    session: Session,
    name: str,
    password: str,
    *,
    client: str | None = None,
    policy: LoginPolicy | None = None,
    session_hours: float = 12.0,
    clock: Clock | None = None,
) -> Login | LoginRefused:
    """Check a name and password and open a login that expires after ``session_hours``; or
    return (not raise) why it was refused, so the caller commits the failure it recorded.

    ``client`` is the caller's address (or another key of the browser session). A name or
    client that must wait (``policy``) is refused without checking the password. Wrong name,
    wrong password and a disabled account all get the same message, so it does not tell an
    attacker which names exist. Every refusal is in the audit log (never the password).
    """
    policy = policy or LoginPolicy()
    now = _clock(clock).now()
    name = (name or "")[:200]
    keys = _throttle_keys(name, client)
    forget = now - dt.timedelta(minutes=policy.lockout_minutes)  # failures before it are forgotten
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < forget,
        (LoginThrottle.blocked_until.is_(None)) | (LoginThrottle.blocked_until <= now),
    ))
    rows = _rows(session, keys, now)
    blocked = [r.blocked_until for r in rows if r.blocked_until is not None and r.blocked_until > now]
    user = session.scalar(select(User).where(User.name == name))
    if blocked:
        wait = int(-(-(max(blocked) - now).total_seconds() // 1))
        _audit_failure(session, name, user, client, "throttled", clock)
        return LoginRefused(
            f"Too many failed logins for this user name or from this browser; try again in {wait} "
            "seconds. An admin can reset the password with `supportloop user password NAME`.", wait
        )
    ok = verify_password(user.password_hash, password) if user else verify_password(_DUMMY_HASH, password)
    if not (user and ok and user.active):
        for row in rows:
            row.failures += 1
            row.last_failure_at = now
            wait = policy.wait_after(row.failures)
            row.blocked_until = now + wait if wait else None
        reason = "unknown_name" if user is None else ("disabled" if ok else "wrong_password")
        _audit_failure(session, name, user, client, reason, clock)
        session.flush()
        return LoginRefused(WRONG)
    session.execute(delete(LoginThrottle).where(LoginThrottle.scope == NAME_SCOPE,
                                                LoginThrottle.key == keys[0][1]))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(hours=session_hours)
    session.add(
        UserSession(token_hash=_token_hash(token), user_id=user.id, created_at=now, expires_at=expires)
    )
    user.last_login_at = now
    audit.record(session, user.name, "login", "user", user.id, after={"client": client}, clock=clock)
    session.flush()
    return Login(token, Actor(user.id, user.name, user.role, expires), expires)


def _audit_failure(session: Session, name: str, user: User | None, client: str | None, reason: str,
                   clock: Clock | None) -> None:
    audit.record(session, name or "(empty)", "login_failed", "user", user.id if user else None,
                 after={"name": name, "client": client, "reason": reason}, clock=clock)


def authenticate(
    session: Session,
    name: str,
    password: str,
    *,
    client: str | None = None,
    policy: LoginPolicy | None = None,
    session_hours: float = 12.0,
    clock: Clock | None = None,
) -> Login:
    """:func:`try_login` that raises its LoginRefused (a PermissionDenied). The failure it
    recorded is lost when the caller rolls back on the exception: pages use ``try_login``."""
    result = try_login(session, name, password, client=client, policy=policy,
                       session_hours=session_hours, clock=clock)
    if isinstance(result, LoginRefused):
        raise result
    return result


_DUMMY_HASH = _hasher.hash("not-a-real-password")


def current_user(session: Session, token: str | None, *, clock: Clock | None = None) -> Actor | None:
    """The user a login token belongs to, or None when it is unknown, expired, revoked or disabled."""
    if not token:
        return None
    now = _clock(clock).now()
    row = session.get(UserSession, _token_hash(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.user.active:
        return None
    return Actor(row.user.id, row.user.name, row.user.role, row.expires_at)


def logout(session: Session, token: str, *, clock: Clock | None = None) -> None:
    """End a login (unknown tokens are ignored)."""
    row = session.get(UserSession, _token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = _clock(clock).now()
        audit.record(session, row.user.name, "logout", "user", row.user_id, clock=clock)


COOKIE_NAME = "supportloop_session"
_COOKIE_PURPOSE = b"supportloop dashboard session\n"


def _cookie_mac(secret: str, token: str, expires: int) -> str:
    msg = _COOKIE_PURPOSE + f"{token}.{expires}".encode()
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def session_cookie(login: Login, secret: str) -> str:
    """The cookie value that carries ``login``: ``token.expiry.signature`` (HMAC-SHA256 with
    ``secret``, the signing secret). The token alone opens nothing once the login is revoked."""
    if not secret:
        raise ValidationError("A session cookie needs the signing secret.")
    expires = int(login.expires_at.replace(tzinfo=login.expires_at.tzinfo or dt.UTC).timestamp())
    return f"{login.token}.{expires}.{_cookie_mac(secret, login.token, expires)}"


def token_from_cookie(value: str | None, secret: str, *, clock: Clock | None = None) -> str | None:
    """The login token in a cookie from :func:`session_cookie`, or None when it is missing,
    malformed, signed with another secret or past its expiry (the database still decides
    whether the login is revoked: pass the token to :func:`current_user`)."""
    parts = (value or "").split(".")
    if len(parts) != 3 or not secret or not parts[1].isdigit():
        return None
    token, expires, mac = parts
    if not hmac.compare_digest(mac, _cookie_mac(secret, token, int(expires))):
        return None
    now = _clock(clock).now()
    if int(expires) <= now.replace(tzinfo=now.tzinfo or dt.UTC).timestamp():
        return None
    return token


def record_raw_view(
    session: Session, user: Actor | None, entity: str, entity_id: object, *, clock: Clock | None = None
) -> None:
    """Check the right to see raw text and write the view to the audit log (call before showing it)."""
    require(user, "view_raw")
    audit.record(session, user.name, "view_raw", entity, entity_id, clock=clock)


def ensure_demo_admin(session: Session, *, clock: Clock | None = None) -> str | None:
    """Create the demo account ``admin`` when no admin exists; returns its password, or None."""
    exists = session.scalar(select(User.id).where(User.role == UserRole.ADMIN).limit(1))
    if exists is not None:
        return None
    if session.scalar(select(User.id).where(User.name == DEMO_ADMIN)) is not None:
        return None
    _, password = create_user(session, DEMO_ADMIN, UserRole.ADMIN, actor=DEMO, clock=clock)
    return password
