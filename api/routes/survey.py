"""The post-booking survey page: ``GET /survey/{token}`` shows the question (never answers
it), ``POST /survey/{token}`` stores the score and comment once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, ScrubberLoaderDep, SessionDep, SettingsDep, limit_body
from api.ratelimit import RESPONSE_429
from api.routes._pages import error_page, esc, page, storable
from api.schemas import AsciiInt
from core.feedback import survey
from core.feedback.links import parse_id
from core.learning import loop as learning
from core.platform.errors import Conflict, SupportloopError
from core.platform.signing import ExpiredSignature, InvalidSignature
from core.platform.statuses import SurveyStatus

router = APIRouter(tags=["survey"], dependencies=[Depends(limit_body)])

Token = Annotated[str, Path(max_length=300, description="Signed survey token from the e-mail")]
_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["score"],
                    "properties": {
                        "score": {"type": "integer", "minimum": 1, "maximum": 5},
                        "comment": {"type": "string", "maxLength": 2000},
                    },
                }
            }
        },
    }
}


_HTML = {"text/html": {}}
_ERRORS = {
    403: {"description": "Forged or altered survey link", "content": _HTML},
    404: {"description": "Unknown survey", "content": _HTML},
    410: {"description": "Expired survey link", "content": _HTML},
    422: {"description": "Invalid parameter or score", "content": _HTML},
    **RESPONSE_429,
}


def _error(exc: SupportloopError) -> HTMLResponse:
    if isinstance(exc, ExpiredSignature):
        return error_page("This survey link has expired", str(exc), 410)
    if isinstance(exc, InvalidSignature):
        return error_page("This survey link is not valid", str(exc), 403)
    if isinstance(exc, Conflict):
        return error_page("Already answered", "This survey was already answered. Thank you!", 409)
    return error_page("Your answer could not be saved", str(exc), exc.http_status)


def _form(token: str, score: int | None) -> str:
    options = "".join(
        f"<label><input type=radio name=score value={n}{' checked' if score == n else ''} required> "
        f"{n}</label>"
        for n in range(1, 6)
    )
    return (
        "<h1>How did we do?</h1><p>How satisfied are you with the help you got, from 1 (not at all) "
        "to 5 (very)?</p>"
        f'<form method=post action="/survey/{esc(token)}"><div class=scores>{options}</div>'
        "<p>Anything you want to tell us? (optional)</p>"
        "<textarea name=comment maxlength=2000></textarea>"
        "<button type=submit>Send</button></form>"
    )


@router.get(
    "/survey/{token}", response_class=HTMLResponse, summary="Survey page (does not answer)", responses=_ERRORS
)
def survey_page(
    token: Token,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    score: Annotated[
        AsciiInt | None, Query(ge=1, le=5, description="Preselected score from the e-mail")
    ] = None,
) -> HTMLResponse:
    """The survey form (a score in the link only preselects it)."""
    try:
        s = survey.check_token(session, settings, token, clock)
    except SupportloopError as exc:
        return _error(exc)
    if s.status == SurveyStatus.ANSWERED:
        return page("Already answered", "<h1>Thank you!</h1><p>You already answered this survey.</p>")
    return page("How did we do?", _form(token, score))


@router.post(
    "/survey/{token}",
    response_class=HTMLResponse,
    summary="Answer the survey (once)",
    openapi_extra=_FORM,
    responses={
        **_ERRORS,
        409: {"description": "Already answered", "content": _HTML},
        413: {"description": "Request body too large"},
    },
)
async def survey_answer(
    request: Request,
    token: Token,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    scrubber: ScrubberLoaderDep,
) -> HTMLResponse:
    """Store the score (1-5) and comment; a second answer is refused."""
    form = await request.form()
    raw = str(form.get("score", ""))
    comment = form.get("comment")
    comment = storable(str(comment))[:4000] if comment is not None else None
    score = parse_id(raw, maximum=5)  # ASCII digits only
    if score is None:
        return error_page("Please choose a score", "Pick a score from 1 to 5 and send again.", 422)

    def work() -> None:
        learning.answer_survey(
            session, settings, token, score, comment,
            scrubber=scrubber() if comment and comment.strip() else None, clock=clock,
        )
        session.commit()  # in the worker thread: see api.deps.get_session

    try:
        await run_in_threadpool(work)
    except SupportloopError as exc:
        session.rollback()
        return _error(exc)
    return page("Thank you", "<h1>Thank you!</h1><p>Your answer helps us serve you better.</p>")
