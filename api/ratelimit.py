"""Rate limits of the anonymous routes (chat widget, feedback links, survey), with the ``limits``
library (moving windows kept in this process's memory).

- per client address: an ASGI middleware (``RateLimitMiddleware``) counts every request to an
  anonymous route before anything else runs (no body read, no database session), so a flood is
  answered ``429`` at the cost of a dictionary look-up;
- at once per client address: the same middleware runs one request of an address and route
  group at a time in a process (``CONCURRENT_PER_ADDRESS``); up to ``WAITING_PER_ADDRESS`` more
  wait their turn (people behind one NAT address are served in turn) and the next one is
  answered ``429`` at once (``Retry-After: 1``, not counted against the windows). A window's
  amount arrives in a burst when an address floods (10 chats within 50 ms at 200 requests/s),
  and those chats, each about 0.1 s of CPU, ran side by side with everyone else's: the other
  customers' chats waited behind them, sharing the GIL and SQLite's write lock with ten others
  (bench/flood.py: p99 1.85 s with p50 91 ms; see docs/security.md);
- paced per client address (chat only): an address's admitted chats start at least
  ``pace`` apart in a process (the shortest window's period over its amount, at most
  ``MAX_PACE_S``: 1 s for ``10/10 seconds``); a chat that comes sooner waits its turn instead of
  being refused. A window then admits its amount spread over the window, not in a burst at its
  start (bench/flood.py, quiet: the customers' p99 beside a flood went from 1,633 ms to 206 ms),
  and a customer who sends two messages within a second is still answered;
- per chat session: ``chat_session_limit``, a dependency the chat route names first, counts the
  turns of one widget session id (the chat's user) from the raw body, before the route opens a
  database session or loads a model.

An exceeded limit answers ``429`` with a ``Retry-After`` header (seconds) and the JSON error
body ``{"error": "RateLimited", "detail": ..., "retry_after": N}``. The limits are settings
(``SUPPORTLOOP_RATE_LIMIT_*``, ``limits`` notation such as ``120/minute`` or
``20/10 seconds;300/hour``; empty turns one off). Counters live in each worker process: with
``SUPPORTLOOP_API_WORKERS=N`` an address can get up to N times a limit, and a restart forgets
them. The client address is the connection's peer as uvicorn reports it (behind a reverse proxy,
start uvicorn with ``--forwarded-allow-ips`` set to the proxy's address so that the
``X-Forwarded-For`` client counts, never a header a client could set itself).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from core.platform.config import Settings
from core.platform.errors import SupportloopError

# (method, path or path prefix ending in "/") -> the limit group it counts against
CHAT = "chat"
PUBLIC = "public"
CONCURRENT_PER_ADDRESS = 1  # requests of one address and group running at once in a process
WAITING_PER_ADDRESS = 2  # more of them that wait their turn; beyond, 429 at once
MAX_PACE_S = 1.0  # the longest gap paced between two chats of one address
_PACED_KEEP = 4096  # start times kept before the expired ones are swept
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,100}")  # api.schemas.ChatIn.session_id
ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/chat"): CHAT,
    ("GET", "/api/v1/ai/feedback"): PUBLIC,
    ("POST", "/api/v1/ai/feedback"): PUBLIC,
    ("GET", "/survey/"): PUBLIC,
    ("POST", "/survey/"): PUBLIC,
}
RESPONSE_429 = {
    429: {
        "description": "Too many requests from this client address or chat session (rate limit); "
        "retry after the number of seconds in the `Retry-After` header.",
        "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    }
}


class RateLimited(SupportloopError):
    """A rate limit of the public API was exceeded (answered 429 with ``Retry-After``)."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_body(exc: RateLimited) -> dict:
    return {"error": "RateLimited", "detail": str(exc), "retry_after": exc.retry_after}


@dataclass
class Limits:
    """The parsed limits of one process and their counters."""

    chat_address: list[RateLimitItem]
    chat_session: list[RateLimitItem]
    public_address: list[RateLimitItem]
    limiter: MovingWindowRateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            chat_address=_parse(settings.rate_limit_chat),
            chat_session=_parse(settings.rate_limit_chat_session),
            public_address=_parse(settings.rate_limit_public),
            limiter=MovingWindowRateLimiter(MemoryStorage()),
        )

    def chat_pace(self) -> float:
        """Seconds between the starts of two chats of one address: the shortest chat window's
        period over its amount, at most MAX_PACE_S (0 without an address limit)."""
        if not self.chat_address:
            return 0.0
        shortest = min(self.chat_address, key=lambda item: item.get_expiry())
        return min(MAX_PACE_S, shortest.get_expiry() / shortest.amount)

    def hit(self, items: list[RateLimitItem], *key: str) -> int | None:
        """Count one request of ``key`` against every item; the seconds to wait when one is
        exceeded (nothing is counted then), else None."""
        for item in items:
            if not self.limiter.test(item, *key):
                reset = self.limiter.get_window_stats(item, *key).reset_time
                return max(1, math.ceil(reset - time.time()))
        for item in items:
            self.limiter.hit(item, *key)
        return None


def _parse(text: str) -> list[RateLimitItem]:
    return parse_many(text) if text.strip() else []


def _group(method: str, path: str) -> str | None:
    group = ROUTES.get((method, path))
    if group is None and path.startswith("/survey/"):
        group = ROUTES.get((method, "/survey/"))
    return group


class RateLimitMiddleware:
    """Counts requests to the anonymous routes per client address (429 beyond the limit) and
    runs ``concurrent`` of an address's requests (per route group) at a time, ``waiting`` more
    in turn; 429 beyond those. A group whose address limits are set empty has neither."""

    def __init__(
        self,
        app: ASGIApp,
        limits: Limits,
        concurrent: int = CONCURRENT_PER_ADDRESS,
        waiting: int = WAITING_PER_ADDRESS,
        pace: float | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.concurrent, self.waiting = concurrent, waiting
        self.pace = limits.chat_pace() if pace is None else pace  # chats of one address, seconds apart
        self.admitted: Counter[tuple[str, str]] = Counter()  # (group, address) -> running + waiting
        self.turns: dict[tuple[str, str], asyncio.Semaphore] = {}
        self.next_start: dict[str, float] = {}  # chat address -> earliest start of its next chat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        group = _group(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if group is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = (group, client[0] if client else "unknown")
        items = self.limits.chat_address if group == CHAT else self.limits.public_address
        if not items:  # this group's address limits are off (a load test, a trusted proxy): no cap
            await self.app(scope, receive, send)
            return
        # the event loop is one thread: nothing runs between these checks and the counts below
        if self.admitted[key] >= self.concurrent + self.waiting:
            await _send_429(send, RateLimited(
                "Your address has other requests still being answered; try again in 1 second.", 1
            ))
            return
        wait = self.limits.hit(items, group, "address", key[1])
        if wait is not None:
            await _send_429(send, RateLimited(
                f"Too many requests from your address; try again in {wait} seconds.", wait
            ))
            return
        if client is None:  # no peer address (a Unix socket): counted above, not queued by address
            await self.app(scope, receive, send)
            return
        self.admitted[key] += 1
        turn = self.turns.setdefault(key, asyncio.Semaphore(self.concurrent))
        try:
            async with turn:
                if group == CHAT and self.pace:
                    await self._paced(key[1])
                await self.app(scope, receive, send)
        finally:
            self.admitted[key] -= 1
            if not self.admitted[key]:
                del self.admitted[key], self.turns[key]

    async def _paced(self, address: str) -> None:
        """Wait until this address's next chat may start (its turn is held meanwhile)."""
        now = time.monotonic()
        start = max(now, self.next_start.get(address, now))
        self.next_start[address] = start + self.pace
        if len(self.next_start) > _PACED_KEEP:
            self.next_start = {a: t for a, t in self.next_start.items() if t > now}
        if start > now:
            await asyncio.sleep(start - now)


async def _send_429(send: Send, exc: RateLimited) -> None:
    body = json.dumps(error_body(exc)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(exc.retry_after).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def check_session(request: Request, session_id: str) -> None:
    """Count one chat turn of ``session_id``; RateLimited (429) beyond its limit."""
    limits: Limits = request.app.state.rate_limits
    wait = limits.hit(limits.chat_session, CHAT, "session", session_id)
    if wait is not None:
        raise RateLimited(f"Too many messages in this chat session; try again in {wait} seconds.", wait)


async def chat_session_limit(request: Request) -> None:
    """The per-session limit of a chat turn, read from the raw body before any other dependency
    (database session, models) runs. Only a well-formed session id counts; a body the route
    then refuses (422) was counted like any turn of that session."""
    if not request.app.state.rate_limits.chat_session:
        return
    try:
        data = json.loads(await request.body())  # the body is cached for the route's own parsing
    except ValueError:
        return  # not JSON: the route answers 422
    session_id = data.get("session_id") if isinstance(data, dict) else None
    if isinstance(session_id, str) and _SESSION_ID.fullmatch(session_id):
        check_session(request, session_id)
