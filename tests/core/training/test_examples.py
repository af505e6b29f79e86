"""Training examples from outside the review queue, on SQLite and PostgreSQL: scrubbed on write,
checked, and only with the build_dataset right."""

import pytest

from core.platform.errors import PermissionDenied, ValidationError
from core.platform.models import TrainingExample
from core.training.examples import import_examples
from tests.factories import ADMIN, REVIEWER


def test_imported_examples_are_scrubbed_and_checked(session, scrubber):
    ids = import_examples(
        session,
        [
            {
                "question": "Hi, I'm Cornelius Vandermeer, do you cater weddings?",
                "answer": "Yes, we do weddings.",
                "intent": "menu",
                "tags": ["weddings"],
            },
            {"question": "How much per child?", "answer": "Thirty dollars per child.", "intent": "pricing"},
        ],
        scrubber,
        actor=ADMIN,
    )
    ex = session.get(TrainingExample, ids[0])
    assert "Cornelius" not in ex.question and ex.source == "imported" and ex.tags == ["weddings"]
    assert ex.created_by == ADMIN.name and ex.human_verified
    with pytest.raises(ValidationError, match="required"):
        import_examples(session, [{"question": "q"}], scrubber, actor=ADMIN)
    with pytest.raises(ValidationError, match="'imported' or 'generated'"):
        import_examples(session, [{"question": "q", "answer": "a"}], scrubber, actor=ADMIN, source="approved")
    generated = import_examples(session, [{"question": "q?", "answer": "a."}], scrubber, actor=ADMIN,
                                source="generated")
    assert session.get(TrainingExample, generated[0]).quality_score == 0.5
    with pytest.raises(PermissionDenied):
        import_examples(session, [{"question": "q", "answer": "a"}], scrubber, actor=REVIEWER)
