"""Deciding on proposals in core: reject (review right, reason), archive (manage_kb), retitle
(a reviewer may retitle a proposal), the proposals list with the gate's reason; proposals
from approved answers get a clean title."""

import pytest

from core.knowledge import chunks as knowledge
from core.knowledge import proposals
from core.platform.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.factories import ADMIN, REVIEWER, VIEWER

QUESTION = "Hi there, this is <PERSON>, my number is <PHONE_NUMBER>. How much is the travel fee to Irvine?"


def test_a_proposal_from_an_approved_answer_gets_a_clean_title_the_reviewer_can_edit(session):
    p = knowledge.propose_chunk(session, question=QUESTION, answer="Irvine is $50.", actor=REVIEWER)
    assert p.title == "How much is the travel fee to Irvine?" and p.chunk_metadata["question"] == QUESTION
    listed = proposals.list_proposals(session)
    assert [(x.id, x.title, x.waits_because) for x in listed] == [(p.id, p.title, None)]
    old_hash = p.content_hash
    proposals.retitle(session, p.id, "Travel fee to Irvine", actor=REVIEWER)
    assert p.title == "Travel fee to Irvine" and p.content_hash != old_hash
    with pytest.raises(PermissionDenied):
        proposals.retitle(session, p.id, "x", actor=VIEWER)
    with pytest.raises(ValidationError):
        proposals.retitle(session, p.id, "  ", actor=REVIEWER)
    live = knowledge.add_chunk(session, text="Adults are $60.", title="Adults", actor=ADMIN)
    with pytest.raises(PermissionDenied):  # only a proposal is the reviewer's to retitle
        proposals.retitle(session, live.id, "Adult price", actor=REVIEWER)
    assert proposals.retitle(session, live.id, "Adult price", actor=ADMIN).title == "Adult price"


def test_reject_and_archive_check_the_role_and_the_state(session):
    p = knowledge.propose_chunk(session, question="Do you cook vegan?", answer="Yes, tofu.", actor=REVIEWER)
    with pytest.raises(PermissionDenied):
        proposals.reject_proposal(session, p.id, actor=VIEWER, reason="no")
    with pytest.raises(ValidationError):
        proposals.reject_proposal(session, p.id, actor=REVIEWER, reason="")
    with pytest.raises(NotFound):
        proposals.reject_proposal(session, 999_999, actor=REVIEWER, reason="no")
    proposals.reject_proposal(session, p.id, actor=REVIEWER, reason="not on the menu")
    assert p.status == "archived" and p.chunk_metadata["rejected"]["reason"] == "not on the menu"
    with pytest.raises(Conflict):
        proposals.reject_proposal(session, p.id, actor=REVIEWER, reason="again")
    live = knowledge.add_chunk(session, text="Adults are $60.", title="Adults", actor=ADMIN)
    with pytest.raises(PermissionDenied):
        proposals.archive(session, live.id, actor=REVIEWER)
    assert proposals.archive(session, live.id, actor=ADMIN).status == "archived"
    with pytest.raises(Conflict):
        proposals.archive(session, live.id, actor=ADMIN)


def test_a_hand_off_text_is_never_proposed(session):
    with pytest.raises(ValidationError, match="hand-off"):
        knowledge.propose_chunk(session, text="I've passed this to our team.", source_type="manual",
                                actor=ADMIN)
