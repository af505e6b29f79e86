"""Feedback votes: signed e-mail links (GET page with a button that POSTs), the widget's JSON
POST, stats.

``GET /api/v1/ai/feedback?id=&vote=&sig=`` never votes: it shows the question and a button
whose form POSTs the vote. The page runs no script (its Content-Security-Policy forbids them),
so mail scanners that prefetch links, even ones that run JavaScript, do not vote: only a
customer pressing the button does. ``POST /api/v1/ai/feedback`` takes JSON (widget; JSON
answer) or a form (the page; an HTML thank-you page with a comment box).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, ReadKey, ScrubberLoaderDep, SessionDep, SettingsDep, limit_body
from api.ratelimit import RESPONSE_429
from api.routes._pages import error_page, esc, page, storable
from api.schemas import AsciiInt, FeedbackIn, FeedbackOut, StatsOut
from core.feedback import links
from core.feedback.stats import feedback_stats as compute_feedback_stats
from core.feedback.votes import VoteResult
from core.learning import loop as learning
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.db import session_scope
from core.platform.errors import SupportloopError, ValidationError
from core.platform.services import Scrubber
from core.platform.signing import ExpiredSignature, InvalidSignature
from core.platform.statuses import Vote

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the thread lock alone
    fcntl = None

router = APIRouter(tags=["feedback"], dependencies=[Depends(limit_body)])

_FORM_SCHEMA = {
    "type": "object",
    "required": ["id", "vote", "sig"],
    "properties": {
        "id": {"type": "integer", "minimum": 1, "maximum": links.MAX_ID},
        "vote": {"type": "string", "enum": ["up", "down"]},
        "sig": {"type": "string", "maxLength": 200},
        "comment": {"type": "string", "maxLength": 2000},
    },
}


def _error_html(exc: SupportloopError) -> HTMLResponse:
    if isinstance(exc, ExpiredSignature):
        return error_page("This link has expired", str(exc), 410)
    if isinstance(exc, InvalidSignature):
        return error_page("This link is not valid", str(exc) + " Nothing was recorded.", 403)
    if exc.http_status == 404:
        return error_page("We could not find that message", str(exc) + " Nothing was recorded.", 404)
    return error_page("Your feedback could not be recorded", str(exc), exc.http_status)


def _vote_form(message_id: int, vote: str, sig: str) -> str:
    word = "helpful" if vote == Vote.UP else "not helpful"
    label = "Yes, it was helpful" if vote == Vote.UP else "No, it was not helpful"
    return (
        "<h1>Was this answer helpful?</h1>"
        f"<p>You picked <strong>{word}</strong>. Press the button to send your feedback.</p>"
        f'<form id=vote method=post action="{links.FEEDBACK_PATH}">'
        f'<input type=hidden name=id value="{esc(message_id)}">'
        f'<input type=hidden name=vote value="{esc(vote)}">'
        f'<input type=hidden name=sig value="{esc(sig)}">'
        f"<button type=submit>{label}</button></form>"
        "<p class=muted>Nothing is recorded until you press the button.</p>"
    )


_PAGE_ERRORS = {
    403: {"description": "Forged or altered link", "content": {"text/html": {}}},
    404: {"description": "Unknown message", "content": {"text/html": {}}},
    410: {"description": "Expired link", "content": {"text/html": {}}},
}


@router.get(
    "/api/v1/ai/feedback",
    response_class=HTMLResponse,
    summary="Feedback link page (does not vote)",
    responses={
        **_PAGE_ERRORS,
        422: {"description": "A missing or invalid parameter (e.g. an id that is not ASCII digits)"},
        **RESPONSE_429,
    },
)
def feedback_page(
    id: Annotated[  # noqa: A002
        str, Query(pattern=r"^[0-9]{1,10}$", description="Assistant message id (ASCII digits)")
    ],
    vote: Annotated[Vote, Query(description="up or down")],
    sig: Annotated[str, Query(max_length=200, description="Link signature")],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> HTMLResponse:
    """The page an e-mail feedback link opens: it checks the link and shows the question with a
    button; only pressing the button POSTs (records) the vote."""
    message_id = links.parse_id(id)  # ASCII digits only (the pattern already refused anything else: 422)
    if message_id is None:  # 0 or beyond the largest id
        return error_page(
            "We could not find that message", "This link names no message. Nothing was recorded.", 404
        )
    try:
        links.check_link(session, settings, message_id, vote, sig, clock=clock)
    except SupportloopError as exc:
        return _error_html(exc)
    return page("Was this answer helpful?", _vote_form(message_id, vote, sig))


def _thanks(message_id: int, vote: str, sig: str, commented: bool) -> HTMLResponse:
    if commented:
        body = "<h1>Thank you!</h1><p>We read every comment; yours helps us answer better.</p>"
    else:
        body = (
            "<h1>Thank you for your feedback!</h1>"
            "<p>Anything we could do better? (optional)</p>"
            f'<form method=post action="{links.FEEDBACK_PATH}">'
            f'<input type=hidden name=id value="{esc(message_id)}">'
            f'<input type=hidden name=vote value="{esc(vote)}">'
            f'<input type=hidden name=sig value="{esc(sig)}">'
            '<textarea name=comment maxlength=2000 placeholder="Your comment"></textarea>'
            "<button type=submit>Send comment</button></form>"
            "<p class=muted>You can close this page.</p>"
        )
    return page("Thank you", body)


@router.post(
    "/api/v1/ai/feedback",
    response_model=FeedbackOut,
    summary="Record a vote (JSON from the widget, or the form of the link page)",
    responses={
        200: {"content": {"text/html": {}}},
        400: {"description": "Incomplete form (HTML page)", "content": {"text/html": {}}},
        403: {"description": "Forged or altered signature"},
        404: {"description": "Unknown message"},
        410: {"description": "Expired link"},
        413: {"description": "Request body too large"},
        422: {"description": "Invalid body"},
        **RESPONSE_429,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": FeedbackIn.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
            },
        }
    },
)
async def post_feedback(
    request: Request, settings: SettingsDep, clock: ClockDep, scrubber: ScrubberLoaderDep
) -> FeedbackOut | HTMLResponse:
    """One vote per message per voter: voting again changes it, a replay changes nothing.

    The vote runs in one worker-thread call that opens, commits and closes its own session
    (no per-request session dependency: each thread hop costs CPU on the hottest write)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded" or ctype == "multipart/form-data":
        form = await request.form()
        mid, vote, sig = str(form.get("id", "")), str(form.get("vote", "")), str(form.get("sig", ""))
        comment = form.get("comment")
        comment = storable(str(comment)) if comment is not None else None
        message_id = links.parse_id(mid)  # ASCII digits only
        if message_id is None or len(sig) > 200:
            return error_page("Your feedback could not be recorded", "The form is incomplete.", 400)
        try:
            result = await _run(request, settings, clock, scrubber, message_id, vote, sig, comment)
        except SupportloopError as exc:
            return _error_html(exc)
        return _thanks(message_id, vote, sig, commented=result.comment_saved or bool(comment))
    try:
        data = FeedbackIn.model_validate_json(await request.body())
    except PydanticValidationError as exc:
        raise ValidationError(
            "Invalid feedback body: "
            + "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
            + ". Send JSON {message_id, vote: up|down, sig, comment?}."
        ) from None
    result = await _run(
        request, settings, clock, scrubber, data.message_id, data.vote, data.sig, data.comment
    )
    return FeedbackOut(
        status="recorded" if result.changed or result.comment_saved else "unchanged",
        message_id=result.message_id,
        vote=result.vote,
        previous=result.previous,
        comment_saved=result.comment_saved,
    )


async def _run(
    request: Request,
    settings: Settings,
    clock: Clock,
    scrubber_loader: Callable[[], Scrubber],
    mid: int,
    vote: str,
    sig: str,
    comment: str | None,
) -> VoteResult:
    """Record one signed vote in its own transaction, in a worker thread."""

    scrubs = bool(comment and comment.strip())

    def work() -> VoteResult:
        scrubber = scrubber_loader() if scrubs else None
        # a comment is scrubbed inside the transaction (slow): such rare votes wait on SQLite itself
        lock = _vote_lock(request.app.state.engine) if scrubber is None else nullcontext()
        with lock, session_scope(request.app.state.session_factory) as session:
            return learning.vote_with_signature(
                session, settings, mid, vote, sig, comment=comment, scrubber=scrubber, clock=clock
            )

    # Votes waiting for their turn wait here, on the event loop, not in the thread pool: each
    # waiting thread would hold one of the pool's places, and a chat that needs one to finish
    # (and release SQLite's write lock) would wait behind them for good.
    async with _vote_turn(request) if not scrubs else nullcontext():
        return await run_in_threadpool(work)


def _vote_turn(request: Request) -> AbstractAsyncContextManager:
    """What votes of this process wait on, on the event loop, before they take a worker thread.
    SQLite: a lock (one vote transaction at a time anyway). PostgreSQL: a semaphore of the
    connection pool's steady size (votes run side by side there; without a cap a burst of them
    takes every pooled connection and chats time out waiting for one)."""
    engine = request.app.state.engine
    state = request.app.state
    if getattr(state, "vote_turns", None) is None:
        state.vote_turns = {}  # event loop id -> lock (tests run one app on several loops)
    key = id(asyncio.get_running_loop())
    if key not in state.vote_turns:
        sqlite = engine.dialect.name == "sqlite"
        state.vote_turns[key] = asyncio.Lock() if sqlite else asyncio.Semaphore(_vote_slots(engine))
    return state.vote_turns[key]


def _vote_slots(engine: Engine) -> int:
    """Votes in flight at once on a pooled database: the pool's steady size (5 by default),
    leaving its overflow to chats and the dashboard's reads."""
    size = getattr(engine.pool, "size", None)
    return max(1, int(size())) if callable(size) else 5


class SqliteWriteLock:
    """One vote transaction at a time on a SQLite file, across the threads of this process
    (a thread lock) and the API's worker processes (``flock`` on ``<database>.vote-lock``).

    SQLite has one writer at a time anyway; without this lock concurrent writers find the
    database busy and SQLite's busy handler makes them *sleep* (1, 2, 5, 10, 15, 20, 25 ms...)
    before trying again, which turns a 1 ms vote into a 50-150 ms p99 under load. Waiting on
    these locks wakes a writer the moment the previous one commits.
    """

    def __init__(self, path: str | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = f"{path}.vote-lock" if path and fcntl is not None else None
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> SqliteWriteLock:
        self._thread_lock.acquire()
        if self._path is not None:
            try:
                if self._fd is None or self._pid != os.getpid():
                    self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._path is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_LOCKS: dict[str, SqliteWriteLock] = {}
_LOCKS_GUARD = threading.Lock()


def _vote_lock(engine: Engine) -> AbstractContextManager:
    """The lock a vote transaction holds: a SqliteWriteLock per SQLite database, none on
    PostgreSQL (row locks there; concurrent votes run in parallel)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    database = engine.url.database or ":memory:"
    lock = _LOCKS.get(database)
    if lock is None:
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(database, SqliteWriteLock(None if database == ":memory:" else database))
    return lock


@router.get(
    "/api/v1/ai/feedback/stats",
    response_model=StatsOut,
    summary="Feedback and CSAT statistics",
    responses={
        401: {"description": "Missing, unknown or revoked API key"},
        403: {"description": "The API key does not have scope 'read'"},
        422: {"description": "days out of range"},
    },
)
def feedback_stats(
    _key: ReadKey,
    session: SessionDep,
    clock: ClockDep,
    days: Annotated[AsciiInt, Query(ge=1, le=3650)] = 7,
) -> dict:
    """Votes up/down, feedback rate, CSAT average and distribution, by channel (read API key)."""
    return compute_feedback_stats(session, days, clock=clock)
