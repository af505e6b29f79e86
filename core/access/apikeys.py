"""API keys for machine callers of the public API.

A key is shown once when created (``sl_`` + 43 random URL-safe characters); only its SHA-256
is stored. Each key has one scope:

- ``read``: read-only endpoints (the metrics JSON);
- ``ingest:<channel>``: posting conversations of one channel (e.g. ``ingest:sms``).

``verify_api_key`` raises :class:`InvalidApiKey` (HTTP 401) for a missing, unknown or revoked
key and :class:`~core.platform.errors.PermissionDenied` (HTTP 403) for a valid key of another scope.
Creating and revoking keys needs the ``manage_users`` right.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound, PermissionDenied, SupportloopError, ValidationError
from core.platform.models import CHANNELS, ApiKey

KEY_PREFIX = "sl_"
SCOPES = ("read", *(f"ingest:{c}" for c in CHANNELS))


class InvalidApiKey(SupportloopError):
    """No API key, or one that is unknown or revoked."""

    http_status = 401


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    name: str
    scope: str
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


def hash_key(plaintext: str) -> str:
    """The SHA-256 (hex) of a key: what is stored and looked up."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def scope_for(scope: str | None = None, channel: str | None = None) -> str:
    """The scope string of ``scope`` or of ``channel`` (an ingest key), validated."""
    if channel:
        if scope and scope != f"ingest:{channel}":
            raise ValidationError("Give either a scope or a channel, not both.")
        scope = f"ingest:{channel}"
    if scope not in SCOPES:
        raise ValidationError(f"Unknown API key scope {scope!r}; use one of {', '.join(SCOPES)}.")
    return scope


def _info(row: ApiKey) -> ApiKeyInfo:
    def iso(v: dt.datetime | None) -> str | None:
        return v.isoformat() if v else None

    return ApiKeyInfo(row.id, row.name, row.scope, row.prefix, iso(row.created_at),
                      iso(row.last_used_at), iso(row.revoked_at))


def create_api_key(
    session: Session, scope: str, name: str, clock: Clock | None = None, *, actor: Actor
) -> tuple[int, str]:
    """Create a key with ``scope`` ('read' or 'ingest:<channel>') and return (id, plaintext).
    The plaintext is not stored: show it to the operator once. ``actor`` needs the
    ``manage_users`` right."""
    require(actor, "manage_users")
    scope = scope_for(scope)
    name = (name or "").strip()
    if not name:
        raise ValidationError("An API key needs a name saying who uses it, e.g. 'grafana'.")
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name[:200],
        scope=scope,
        key_hash=hash_key(plaintext),
        prefix=plaintext[:10],
        created_at=(clock or SystemClock()).now(),
    )
    session.add(row)
    session.flush()
    return row.id, plaintext


def verify_api_key(
    session: Session, plaintext: str | None, scope: str, clock: Clock | None = None
) -> ApiKeyInfo:
    """The key ``plaintext`` if it is active and has ``scope``; records when it was used."""
    if not plaintext:
        raise InvalidApiKey("This endpoint needs an API key in the X-API-Key header "
                            "(create one with `supportloop apikey create`).")
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext.strip())))
    if row is None or row.revoked_at is not None:
        raise InvalidApiKey("The API key is unknown or revoked; create a new one with "
                            "`supportloop apikey create`.")
    if row.scope != scope:
        raise PermissionDenied(f"This API key has scope {row.scope!r}; this endpoint needs {scope!r}.")
    row.last_used_at = (clock or SystemClock()).now()
    session.flush()
    return _info(row)


def list_api_keys(session: Session) -> list[ApiKeyInfo]:
    """Every key (active and revoked), newest first; never the secret."""
    return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id.desc()))]


def revoke_api_key(
    session: Session, key_id: int, clock: Clock | None = None, *, actor: Actor
) -> ApiKeyInfo:
    """Revoke key ``key_id`` (it stops working at once); revoking twice is harmless. ``actor``
    needs the ``manage_users`` right."""
    require(actor, "manage_users")
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No API key with id {key_id}; `supportloop apikey list` shows them.")
    if row.revoked_at is None:
        row.revoked_at = (clock or SystemClock()).now()
        session.flush()
    return _info(row)
