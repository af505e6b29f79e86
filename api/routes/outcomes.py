"""``POST /api/v1/outcomes``: the booking system reports how a conversation ended.

Authenticated by the ingest API key of the conversation's channel. Records the booking and
credits the chunks the conversation's answers used with it (``core.learning.loop.record_booking``),
and for a booking sends the post-booking survey e-mail once
(``core.feedback.survey``); a survey that cannot be sent does not undo the booking: the answer says why.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import ClockDep, IngestKey, NotifierDep, SessionDep, SettingsDep, limit_body
from api.schemas import OutcomeIn, OutcomeOut
from core.feedback import survey
from core.learning import loop as learning
from core.platform.actors import SYSTEM
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation

router = APIRouter(tags=["outcomes"], dependencies=[Depends(limit_body)])


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
    key: IngestKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    notifier: NotifierDep,
) -> OutcomeOut:
    """Record whether the conversation ended in a booking; a booking triggers the survey e-mail."""
    conv = session.get(Conversation, body.conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {body.conversation_id} does not exist.")
    key.require(conv.channel)
    # credits the chunks the conversation's answers used, the first time it is booked
    row = learning.record_booking(session, conv.id, body.converted, body.value_usd, clock, settings=settings)
    status, note = None, None
    if body.converted and body.send_survey:
        try:
            s = survey.send_survey(
                session, conv.id, notifier, settings, actor=SYSTEM, email=body.email, clock=clock
            )
            status, note = s.status, s.last_error
        except ValidationError as exc:
            note = str(exc)
    session.commit()  # before returning: see api.deps.get_session
    return OutcomeOut(
        conversation_id=conv.id,
        booking_converted=row.booking_converted,
        booking_value_usd=row.booking_value_usd,
        successful_outcome=row.successful_outcome,
        survey_status=status,
        survey_note=note,
    )
