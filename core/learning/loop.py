"""The learning loop: what follows a vote, a booking and a CSAT answer, in one place.

The feedback, conversations and knowledge packages each record their own rows; this module is
the only one that fans a customer signal out to the conversation outcome
(``core.conversations.outcomes``), the chunk scores (``core.knowledge.scoring``,
``core.learning.chunk_votes``) and the review queue (``core.review.queue``). The API, the
command line, the demo and the benchmarks call these functions; each joins the caller's
transaction and none commits.

- **A vote** (:func:`record_vote`, :func:`vote_with_signature`, :func:`add_comment`): the vote
  row (``core.feedback.votes``); then, only when the vote changed, the conversation's down-vote
  count and successful outcome are recounted (when a down vote is involved), the chunks the
  answer used get the vote's rating once per voter (a changed vote replaces it), and a down
  vote puts the answer in the review queue. The order (vote row, outcome row, chunk rows,
  review item) is the same for every vote, so concurrent votes never wait on each other in a
  cycle; the statements are the vote path's single-transaction Core statements.
- **A booking** (:func:`record_booking`): the booking on the outcome row; the first time a
  conversation is booked, the chunks its answers used are credited with the booking
  (repeating the report credits nothing more).
- **A CSAT answer** (:func:`answer_survey`, or :func:`record_csat` for a score that arrives
  another way): the CSAT on the outcome row; the chunks the conversation's answers used are
  credited with the score once per conversation (a changed score replaces it, the same score
  again changes nothing); a score below ``review_csat_below`` puts every answer of the
  conversation in the review queue.

Customer signals are not user actions: votes are keyed by the signed voter, and the review
queue is filled as ``SYSTEM``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.conversations import outcomes
from core.feedback import survey, votes
from core.feedback.votes import VoteResult
from core.knowledge import scoring
from core.learning.chunk_votes import credit_vote
from core.platform.actors import SYSTEM
from core.platform.clock import Clock
from core.platform.config import Settings, get_settings
from core.platform.models import ConversationOutcome, Message, Survey
from core.platform.services import Scrubber
from core.platform.statuses import FeedbackSource, MessageRole, Vote
from core.review.queue import Reason, flag_message


# --- votes --------------------------------------------------------------------------------
def react_to_vote(
    session: Session, result: VoteResult, settings: Settings | None = None, clock: Clock | None = None
) -> None:
    """What follows a recorded vote: nothing for a replay; for a changed vote the outcome
    (when a down vote is involved), the chunks the answer used, and the review queue for a
    down vote."""
    if not result.changed:
        return
    if Vote.DOWN in (result.previous, result.vote):  # the down-vote count changed: recount it
        outcomes.recount_down_votes(session, result.conversation_id, result.recorded_at, clock)
    if result.used_chunks:
        credit_vote(session, result.message_id, result.previous, result.vote, settings, result.recorded_at)
    if result.vote == Vote.DOWN:
        flag_message(session, result.message_id, Reason.DOWN_VOTE, actor=SYSTEM, clock=clock)


def record_vote(
    session: Session,
    message_id: int,
    vote: str,
    voter: str,
    *,
    source: str = FeedbackSource.API,
    comment: str | None = None,
    scrubber: Scrubber | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> VoteResult:
    """Record ``voter``'s vote on an assistant message and react to it (see the module
    docstring). A repeated identical vote changes nothing; a different vote replaces the
    earlier one. ``settings`` gives the chunk score's smoothing (the process settings when None)."""
    result = votes.record_vote(
        session, message_id, vote, voter, source=source, comment=comment, scrubber=scrubber, clock=clock
    )
    react_to_vote(session, result, settings, clock)
    return result


def vote_with_signature(
    session: Session,
    settings: Settings,
    message_id: int,
    vote: str,
    sig: str,
    *,
    comment: str | None = None,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> VoteResult:
    """Verify a signed link (e-mail or widget), record its vote and react to it; nothing is
    recorded when the signature is forged, altered or expired."""
    result = votes.vote_with_signature(
        session, settings, message_id, vote, sig, comment=comment, scrubber=scrubber, clock=clock
    )
    react_to_vote(session, result, settings, clock)
    return result


def add_comment(
    session: Session,
    message_id: int,
    voter: str,
    comment: str,
    scrubber: Scrubber | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> VoteResult:
    """Attach a comment to ``voter``'s existing vote on a message (the thank-you page's box)."""
    result = votes.add_comment(session, message_id, voter, comment, scrubber=scrubber, clock=clock)
    react_to_vote(session, result, settings, clock)
    return result


# --- bookings and CSAT ----------------------------------------------------------------------
def record_booking(
    session: Session,
    conversation_id: int,
    converted: bool,
    value_usd: float | None = None,
    clock: Clock | None = None,
    *,
    settings: Settings | None = None,
) -> ConversationOutcome:
    """Record whether a conversation ended in a booking (and its value); the first time it is
    booked, credit the chunks its answers used with the booking. ``settings`` gives the chunk
    score's smoothing."""
    before = session.get(ConversationOutcome, conversation_id)
    was_booked = bool(before is not None and before.booking_converted)
    row = outcomes.record_booking(session, conversation_id, converted, value_usd, clock)
    if row.booking_converted and not was_booked:
        scoring.record_conversation_feedback(
            session, conversation_id, booked=True, settings=settings, clock=clock
        )
    return row


def record_csat(
    session: Session,
    conversation_id: int,
    score: int,
    clock: Clock | None = None,
    *,
    settings: Settings | None = None,
) -> ConversationOutcome:
    """Record the 1-5 CSAT of a conversation; credit the chunks its answers used with the score
    once per conversation (a changed score replaces the earlier one); below
    ``review_csat_below`` queue the conversation's answers for review."""
    before = session.get(ConversationOutcome, conversation_id)
    previous = before.csat if before is not None else None
    row = outcomes.record_csat(session, conversation_id, score, clock)
    if previous != score:
        if previous is None:
            scoring.record_conversation_feedback(
                session, conversation_id, rating=score, settings=settings, clock=clock
            )
        else:
            scoring.change_conversation_feedback(
                session, conversation_id, previous=previous, rating=score, settings=settings, clock=clock
            )
    if score < (settings or get_settings()).review_csat_below:
        for mid in session.scalars(
            select(Message.id).where(
                Message.conversation_id == conversation_id, Message.role == MessageRole.ASSISTANT
            )
        ):
            flag_message(session, mid, Reason.LOW_CSAT, actor=SYSTEM, clock=clock)
    return row


def answer_survey(
    session: Session,
    settings: Settings,
    token: str,
    csat: int,
    comment: str | None = None,
    *,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> Survey:
    """Store the customer's survey answer once (``core.feedback.survey``; Conflict when already
    answered) and react to its score (:func:`record_csat`)."""
    answered = survey.answer_survey(session, settings, token, csat, comment, scrubber=scrubber, clock=clock)
    record_csat(session, answered.conversation_id, csat, clock, settings=settings)
    return answered
