"""``POST /api/v1/outcomes``: the booking system reports how a conversation ended.

Authenticated by the ingest API key of the conversation's channel. Records the booking
(``core.conversations.outcomes``), credits the chunks the conversation's answers used with the booking
(``core.knowledge.chunks``), and for a booking sends the post-booking survey e-mail once
(``core.feedback.survey``); a survey that cannot be sent does not undo the booking: the answer says why.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.deps import get_session, get_settings
from api.routes.chat import app_clock
from api.routes.ingest import _channel_of_key
from api.schemas import OutcomeIn, OutcomeOut, limit_body, require_key
from core.conversations import outcomes
from core.feedback import survey
from core.platform.config import Settings
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation

router = APIRouter(tags=["outcomes"], dependencies=[Depends(limit_body)])


def app_notifier(request: Request):
    """The notifier (``app.state.notifier`` when set, else one for the settings)."""
    state = request.app.state
    if getattr(state, "notifier", None) is None:
        from core.platform.notify import Notifier

        state.notifier = Notifier(state.settings)
    return state.notifier


@router.post(
    "/api/v1/outcomes",
    response_model=OutcomeOut,
    summary="Record a booking outcome (and send the survey)",
    responses={
        401: {"description": "Missing or unknown API key"},
        403: {"description": "Key of another channel"},
        404: {"description": "Unknown conversation"},
    },
)
def record_outcome(
    body: OutcomeIn,
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> OutcomeOut:
    """Record whether the conversation ended in a booking; a booking triggers the survey e-mail."""
    conv = session.get(Conversation, body.conversation_id)
    if conv is None:
        require_key(request, session, f"ingest:{_channel_of_key(request, session)}")
        raise NotFound(f"Conversation {body.conversation_id} does not exist.")
    require_key(request, session, f"ingest:{conv.channel}")
    clock = app_clock(request)
    # credits the chunks the conversation's answers used, the first time it is booked
    row = outcomes.record_booking(session, conv.id, body.converted, body.value_usd, clock, settings=settings)
    status, note = None, None
    if body.converted and body.send_survey:
        try:
            s = survey.send_survey(
                session, conv.id, app_notifier(request), settings, email=body.email, clock=clock
            )
            status, note = s.status, s.last_error
        except ValidationError as exc:
            note = str(exc)
    return OutcomeOut(
        conversation_id=conv.id,
        booking_converted=row.booking_converted,
        booking_value_usd=row.booking_value_usd,
        successful_outcome=row.successful_outcome,
        survey_status=status,
        survey_note=note,
    )
