"""Rate limits of the anonymous routes (chat widget, feedback links, survey), with the ``limits``
library (moving windows kept in this process's memory).

- per client address: an ASGI middleware (``RateLimitMiddleware``) counts every request to an
  anonymous route before anything else runs (no body read, no database session), so a flood is
  answered ``429`` at the cost of a dictionary look-up;
- per chat session: ``check_session`` counts the turns of one widget session id (the chat's
  user), called by the chat route once the body is parsed.

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

import json
import math
import time
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
    """Counts requests to the anonymous routes per client address; 429 beyond the limit."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            group = _group(scope["method"], scope["path"])
            if group is not None:
                items = self.limits.chat_address if group == CHAT else self.limits.public_address
                client = scope.get("client")
                address = client[0] if client else "unknown"
                wait = self.limits.hit(items, group, "address", address)
                if wait is not None:
                    exc = RateLimited(
                        f"Too many requests from your address; try again in {wait} seconds.", wait
                    )
                    await _send_429(send, exc)
                    return
        await self.app(scope, receive, send)


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
