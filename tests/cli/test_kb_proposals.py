"""`supportloop kb reject|archive|title|proposals`: role-checked in core (--actor), audited,
clear errors for an unknown id or a chunk in the wrong state."""

from core.access.auth import create_user
from core.knowledge import chunks as knowledge
from core.platform.audit import history
from core.platform.models import Chunk
from tests.factories import ADMIN


def _seed(db) -> tuple[int, int]:
    with db.session() as s:
        create_user(s, "rita", "reviewer", "correct-horse-1", actor=ADMIN)
        create_user(s, "watcher", "viewer", "correct-horse-2", actor=ADMIN)
        live = knowledge.add_chunk(s, text="Adults are $60 per person.", title="Adult price", actor=ADMIN)
        prop = knowledge.propose_chunk(s, question="Hi, this is <PERSON>. Do you cook vegan food? Thanks!",
                                       answer="Yes: tofu and vegetables.", actor=ADMIN)
        s.commit()
        return live.id, prop.id


def test_reject_archive_and_retitle_from_the_command_line(cli, db):
    live, prop = _seed(db)
    out = cli("kb", "proposals")
    assert f"#{prop}" in out and "Do you cook vegan food?" in out and "<PERSON>" not in out
    assert "is titled 'Vegan menu'" in cli("kb", "title", prop, "Vegan menu", "--actor", "rita")
    assert "'review' right" in cli("kb", "reject", prop, "--reason", "dup", "--actor", "watcher", code=1)
    assert "Say why" in cli("kb", "reject", prop, "--reason", " ", "--actor", "rita", code=1)
    assert f"proposal {prop} rejected" in cli("kb", "reject", prop, "--reason", "we are not vegan",
                                               "--actor", "rita")
    assert "not a proposal" in cli("kb", "reject", prop, "--reason", "again", code=1)
    assert "does not exist" in cli("kb", "reject", 9999, "--reason", "x", code=1)
    assert "manage_kb" in cli("kb", "archive", live, "--actor", "rita", code=1)
    assert f"chunk {live} archived" in cli("kb", "archive", live)
    assert "already archived" in cli("kb", "archive", live, code=1)
    assert "does not exist" in cli("kb", "archive", 9999, code=1)
    with db.session() as s:
        rejected, archived = s.get(Chunk, prop), s.get(Chunk, live)
        assert (rejected.status, archived.status) == ("archived", "archived")
        assert rejected.chunk_metadata["rejected"] == {
            "by": "rita", "reason": "we are not vegan", "at": rejected.chunk_metadata["rejected"]["at"]}
        assert [a.action for a in history(s, "chunk", prop)] == ["retitle", "reject"]
    assert "no proposals" in cli("kb", "proposals")
