"""core.platform.pii_check: the independent export check flags what leaves, and only an admin's
approval of exactly that text lets it pass."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.platform import pii_check
from core.platform.errors import PermissionDenied, ValidationError
from core.platform.models import AuditLog, Chunk
from core.platform.statuses import ChunkSource, ChunkStatus
from tests.factories import ADMIN, REVIEWER


@pytest.fixture(scope="module")
def checker():
    return pii_check.get_checker()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Dr. Chukwuemeka Okafor will attend", "PERSON"),
        ("77 El Camino Real, Palo Alto CA 94301", "STREET_ADDRESS"),
        ("my SSN is 987-65-4321", "US_SSN"),
        ("reach me on 0494 92 82 32 after six", "PHONE_NUMBER"),
        ("UK mobile 07700 063 966", "PHONE_NUMBER"),
        ("office 415-555-0132 x123", "PHONE_NUMBER"),
        ("card 4111 1111 1111 1111 exp 09/27", "CREDIT_CARD"),
        ("write to jo.bloggs@example.org", "EMAIL_ADDRESS"),
        ("PSC 1234, Box 5678, APO AE 09876", "STREET_ADDRESS"),
    ],
)
def test_flags_personal_data(checker, text, kind):
    assert kind in {f.type for f in checker.check_text(text)}


@pytest.mark.parametrize(
    "text",
    [
        "Hi <PERSON>, we can call you at <PHONE_NUMBER> about <STREET_ADDRESS>.",
        "It costs $45 per person for 20 guests on June 5th 2026 at 6pm.",
        "Hibachi chicken, filet mignon and yakisoba are on the menu.",
        "",
    ],
)
def test_leaves_placeholders_and_hard_negatives_alone(checker, text):
    assert checker.check_text(text) == []


def test_business_words_are_not_names(checker, session):
    text = "We travel to Vallejo, Stockton and Tracy."
    assert {f.type for f in checker.check_text(text)} == {"PERSON"}
    session.add(Chunk(title="Travel fees", text="A $100 fee applies in Vallejo, Stockton and Tracy.",
                      source_type=ChunkSource.IMPORTED, content_hash="x"))
    session.add(Chunk(title="From a customer", text="Booking for Chukwuemeka Okafor",
                      source_type=ChunkSource.APPROVED_ANSWER, content_hash="y"))
    session.add(Chunk(title="Proposed", text="Call Xochitl Hernández", status=ChunkStatus.PROPOSED,
                      source_type=ChunkSource.MANUAL, content_hash="z"))
    session.flush()
    words = pii_check.business_words(session)
    assert {"vallejo", "stockton", "tracy"} <= words and not {"okafor", "xochitl"} & words
    assert pii_check.flagged_texts(session, [text]) == []
    assert pii_check.flagged_texts(session, ["Dr. Chukwuemeka Okafor called"])[0].types == ["PERSON"]


def test_lines_are_numbered_and_approval_needs_an_admin(session):
    lines = ["all fine here", "call 415-555-0132 please", "thanks"]
    flagged = pii_check.flagged_texts(session, lines)
    assert [(f.line, f.types) for f in flagged] == [(2, ["PHONE_NUMBER"])]
    with pytest.raises(PermissionDenied, match="view_raw"):
        pii_check.approve_text(session, lines[1], actor=REVIEWER, subject="test")
    key = pii_check.approve_text(session, lines[1], actor=ADMIN, subject="test line 2")
    assert key == pii_check.text_sha256(lines[1])
    assert pii_check.flagged_texts(session, lines) == []
    # exactly that text: one character more is flagged again
    assert [f.line for f in pii_check.flagged_texts(session, [lines[1] + "!"])] == [1]
    # approving twice records once
    pii_check.approve_text(session, lines[1], actor=ADMIN, subject="again")
    assert session.query(AuditLog).filter_by(action=pii_check.APPROVE_ACTION).count() == 1
    with pytest.raises(ValidationError):
        pii_check.approve_text(session, "  ", actor=ADMIN, subject="empty")


def test_refusal_message_names_line_and_type(session):
    flagged = pii_check.flagged_texts(session, ["ok", "ok", "SSN 987-65-4321"])
    msg = pii_check.refusal_message("The export", flagged, "`supportloop pii approve ...`")
    assert "line 3: " in msg and "US_SSN" in msg and "supportloop pii approve" in msg
    assert "987-65-4321" not in msg  # the error never repeats the personal data


def test_shares_no_recognizer_code_with_the_scrubber():
    """The check is independent: it imports neither the scrubber nor its recognizers."""
    src = Path(pii_check.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    assert not {m for m in imported if m.startswith("core.platform.pii")}, imported
