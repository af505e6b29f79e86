"""FastAPI dependencies of the public API, as ``Annotated`` aliases a route names in its signature.

- ``SettingsDep``, ``SessionDep`` (one transaction per request), ``ClockDep``;
- the services loaded once per process and kept on ``app.state``: ``EmbedderDep``,
  ``ScrubberDep`` (``ScrubberLoaderDep`` where only some requests scrub), ``EnricherDep``,
  ``NotifierDep``;
- the API-key checks: ``ReadKey`` (scope ``read``) and ``IngestKey`` (scope
  ``ingest:<channel>``; the route checks the channel of what it writes with ``require``);
- ``limit_body``, the body size limit routers install.

Tests replace a service by setting it on ``app.state`` (``clock``, ``embedder``, ``scrubber``,
``notifier``) after ``create_app``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access.apikeys import ApiKeyInfo, InvalidApiKey, hash_key, verify_api_key
from core.answering.routing import production_embedder
from core.enrichment.enrich import get_enricher
from core.platform import notify
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.embeddings import get_embedder
from core.platform.errors import PermissionDenied, SupportloopError
from core.platform.models import CHANNELS, ApiKey
from core.platform.pii import get_scrubber
from core.platform.services import Embedder, Enricher, Notifier, Scrubber

_LOCK = threading.Lock()
_LENGTH = re.compile(r"[0-9]{1,19}")


class PayloadTooLarge(SupportloopError):
    """The request body is larger than SUPPORTLOOP_API_MAX_BODY_BYTES."""

    http_status = 413


async def limit_body(request: Request) -> None:
    """Refuse bodies over ``settings.api_max_body_bytes`` with 413 before parsing them (by the
    declared ``Content-Length``; a body without one, or with one that is not ASCII digits, is
    read and measured)."""
    limit = request.app.state.settings.api_max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and _LENGTH.fullmatch(declared):  # ASCII digits only, as HTTP writes it
        if int(declared) > limit:
            raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    elif request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()  # chunked upload: read it (cached for the handler) and check
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is {len(body)} bytes; the limit is {limit}.")


# --- settings, session, clock ----------------------------------------------------------------
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; committed when the handler returns without error, before the
    response is sent (``SessionDep`` has scope ``function``).

    A route that writes commits itself before it returns. FastAPI validates a sync route's
    return value in a worker thread *before* this exit runs, and that thread waits for a free
    place in the thread pool: a transaction still open there held SQLite's write lock while every
    place was taken by requests waiting for that same lock (bench/background.py: votes at 50/s
    beside chats stalled the API for good). The commit here is then a no-op, kept for read
    routes and as a safety net."""
    session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def get_clock(request: Request) -> Clock:
    """The app's clock (tests put a FixedClock on ``app.state.clock``), else the system clock."""
    return getattr(request.app.state, "clock", None) or SystemClock()


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit when the handler returns, before the response is sent (the default
# scope commits after it, so a client could be told of a conversation it cannot see yet, or of a
# write whose commit then failed: bench/live_truth.py found both races on SQLite)
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]


# --- services loaded once per process ----------------------------------------------------------
def app_embedder(request: Request) -> Embedder:
    """The process embedder (``app.state.embedder`` when set, else loaded once)."""
    state = request.app.state
    with _LOCK:
        if getattr(state, "embedder", None) is None:
            state.embedder = get_embedder(state.settings)
        return state.embedder


def app_scrubber(request: Request) -> Scrubber:
    """The process PII scrubber (``app.state.scrubber`` when set, else loaded once)."""
    state = request.app.state
    with _LOCK:
        if getattr(state, "scrubber", None) is None:
            state.scrubber = get_scrubber(state.settings)
        return state.scrubber


async def scrubber_loader(request: Request) -> Callable[[], Scrubber]:
    """``app_scrubber`` for this request, called only when there is text to scrub (loading the
    scrubber takes seconds; a vote without a comment never needs it)."""
    return lambda: app_scrubber(request)


def app_enricher(request: Request, session: SessionDep) -> Enricher:
    """The enricher (``core.enrichment.enrich``) on the embedder production serves (a promoted
    embedding model, else ``app_embedder``), so the API and the job runner share one intent model."""
    state = request.app.state
    embedder = production_embedder(session, state.settings, base=lambda: app_embedder(request))
    return get_enricher(state.settings, embedder, may_train=False)  # training is the runner's work


async def app_notifier(request: Request) -> Notifier:
    """The notifier (``app.state.notifier`` when set, else one for the settings)."""
    state = request.app.state
    if getattr(state, "notifier", None) is None:
        state.notifier = notify.Notifier(state.settings)
    return state.notifier


EmbedderDep = Annotated[Embedder, Depends(app_embedder)]
ScrubberDep = Annotated[Scrubber, Depends(app_scrubber)]
ScrubberLoaderDep = Annotated[Callable[[], Scrubber], Depends(scrubber_loader)]
EnricherDep = Annotated[Enricher, Depends(app_enricher)]
NotifierDep = Annotated[Notifier, Depends(app_notifier)]


# --- API keys --------------------------------------------------------------------------------
_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False,
    description="An API key (`supportloop apikey create --scope read` or `--channel <channel>`).",
)
_bearer = HTTPBearer(auto_error=False, description="The same API key as `Authorization: Bearer <key>`.")


async def api_key(
    header: Annotated[str | None, Security(_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str:
    """The request's API key: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    if bearer is not None and bearer.credentials.strip():
        return bearer.credentials.strip()
    if header and header.strip():
        return header.strip()
    raise InvalidApiKey(
        "This call needs an API key: send 'X-API-Key: <key>' or 'Authorization: Bearer <key>' "
        "(create one with `supportloop apikey create`)."
    )


ApiKeyDep = Annotated[str, Depends(api_key)]


def read_key(key: ApiKeyDep, session: SessionDep, clock: ClockDep) -> ApiKeyInfo:
    """401 without a valid key, 403 for a key whose scope is not ``read``."""
    return verify_api_key(session, key, "read", clock)


@dataclass(frozen=True)
class IngestKeyInfo:
    """A valid ingest key and the one channel it may write."""

    channel: str
    key: ApiKeyInfo

    def require(self, channel: str) -> None:
        """PermissionDenied (403) unless the key writes ``channel``."""
        if channel != self.channel:
            raise PermissionDenied(
                f"This API key has scope {self.key.scope!r}; this endpoint needs 'ingest:{channel}'."
            )


def ingest_key(key: ApiKeyDep, session: SessionDep, clock: ClockDep) -> IngestKeyInfo:
    """The channel of an ingest key (``ingest:<channel>``): 401 for an unknown or revoked key,
    403 for a key of another scope."""
    scope = session.scalar(
        select(ApiKey.scope).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )
    if scope is None:
        raise InvalidApiKey(
            "The API key is unknown or revoked; create a new one with `supportloop apikey create`."
        )
    channel = scope.split(":", 1)[1] if scope.startswith("ingest:") else None
    if channel not in CHANNELS:
        raise PermissionDenied(f"This API key has scope {scope!r}; ingest needs an 'ingest:<channel>' key.")
    return IngestKeyInfo(channel, verify_api_key(session, key, scope, clock))


ReadKey = Annotated[ApiKeyInfo, Depends(read_key)]
IngestKey = Annotated[IngestKeyInfo, Depends(ingest_key)]
