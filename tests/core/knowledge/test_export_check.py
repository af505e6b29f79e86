"""The independent PII check on KB promotion and export: a flagged proposal stays out of the KB
and stops `kb export` until an admin approves exactly its text."""

from __future__ import annotations

import pytest

from core.knowledge import chunks as knowledge
from core.knowledge.refresh import weekly_refresh
from core.platform.errors import PermissionDenied, ValidationError
from core.platform.statuses import ChunkStatus
from tests.factories import ADMIN, REVIEWER
from tests.factories.knowledge import hashing, kb_settings, seed

FLAGGED = "The chef trained under Rice for years."  # the scrubber leaves "Rice"; the check does not


def test_flagged_proposal_is_held_and_export_refused_until_approved(session, settings):
    st = kb_settings(settings)
    clock = seed(session)
    weekly_refresh(session, hashing(), st, clock, actor=ADMIN)
    proposal = knowledge.propose_chunk(session, title="Our chef", text=FLAGGED, source_type="manual",
                                       actor=ADMIN, clock=clock)
    report = weekly_refresh(session, hashing(), st, clock, actor=ADMIN)
    assert proposal.status == ChunkStatus.PROPOSED
    assert any(f"chunk {proposal.id}: PERSON" in r for r in report.reasons)

    knowledge.export_checked(session, settings=st)  # the active KB alone passes
    with pytest.raises(ValidationError) as err:
        knowledge.export_checked(session, statuses=("active", "proposed"), settings=st)
    assert f"chunk {proposal.id}: PERSON" in str(err.value) and "Rice" not in str(err.value)

    with pytest.raises(PermissionDenied):
        knowledge.approve_chunk_text(session, proposal.id, actor=REVIEWER)
    knowledge.approve_chunk_text(session, proposal.id, actor=ADMIN, clock=clock)
    assert len(knowledge.export_checked(session, statuses=("active", "proposed"), settings=st)) > 1
    weekly_refresh(session, hashing(), st, clock, actor=ADMIN)
    assert proposal.status == ChunkStatus.ACTIVE
