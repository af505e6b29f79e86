"""Dashboard accounts, logins and rights.

Local accounts with argon2-hashed passwords and one role each:

- **viewer** sees metrics, conversations (redacted) and reports;
- **reviewer** also works the review queue (approve, edit, reject, promote to KB);
- **admin** also activates and rolls back KB versions, launches dataset builds and
  fine-tunes, promotes experiments, edits alert rules, manages users and sees raw
  (unredacted) text. Every raw-text view is written to the audit log.

A login (``authenticate``) returns a random bearer token; only its SHA-256 is stored, with
an expiry (``Settings.session_hours``). ``current_user`` turns a token back into a user, or
``None`` when it is unknown, expired, revoked or its account is deactivated.
Creating and changing accounts needs the ``manage_users`` right (the acting user is an
:class:`~core.platform.actors.Actor`; audit rows keep its name).
None of these functions commit: the caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform import audit
from core.platform.actors import SYSTEM, USER_ROLES, Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.platform.models import User, UserSession
from core.platform.statuses import UserRole

DEMO_ADMIN = "admin"
DEMO = dataclasses.replace(SYSTEM, name="demo")  # who creates the demo admin (audit rows say "demo")
MIN_PASSWORD_CHARS = 8


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


def _validate(name: str, role: str, password: str | None) -> None:
    if not name or not name.strip() or len(name) > 100 or name != name.strip():
        raise ValidationError("A user name must be 1-100 characters without leading or trailing spaces.")
    if role not in USER_ROLES:
        raise ValidationError(f"Unknown role {role!r}; use one of {', '.join(USER_ROLES)}.")
    if password is not None and len(password) < MIN_PASSWORD_CHARS:
        raise ValidationError(
            f"The password is too short: use at least {MIN_PASSWORD_CHARS} characters "
            "(or leave it out to get a generated one)."
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


def authenticate(
    session: Session,
    name: str,
    password: str,
    *,
    session_hours: float = 12.0,
    clock: Clock | None = None,
) -> Login:
    """Check a name and password and open a login that expires after ``session_hours``.

    Wrong name, wrong password and a disabled account all raise the same PermissionDenied,
    so the message does not tell an attacker which names exist.
    """
    now = _clock(clock).now()
    user = session.scalar(select(User).where(User.name == name))
    ok = verify_password(user.password_hash, password) if user else verify_password(_DUMMY_HASH, password)
    if not (user and ok and user.active):
        raise PermissionDenied("Wrong user name or password (or the account is disabled).")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(hours=session_hours)
    session.add(
        UserSession(token_hash=_token_hash(token), user_id=user.id, created_at=now, expires_at=expires)
    )
    user.last_login_at = now
    audit.record(session, user.name, "login", "user", user.id, clock=clock)
    session.flush()
    return Login(token, Actor(user.id, user.name, user.role, expires), expires)


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
