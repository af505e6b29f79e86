"""The command line acts only for an existing, active account whose role allows the action:
`review approve --actor NAME` refuses a viewer and an unknown name and changes nothing; `kb
prune` needs the manage_kb right and shows what it would delete with --dry-run."""

import os

from sqlalchemy import select

from core.access.auth import create_user
from core.platform.models import ReviewItem
from core.platform.statuses import ReviewStatus
from tests.factories import ADMIN, make_answer


def test_review_approve_refuses_a_viewer_and_an_unknown_account(cli, db):
    with db.session() as s:
        make_answer(s, confidence=0.1)
        create_user(s, "ops", "reviewer", "correct-horse-1", actor=ADMIN)
        create_user(s, "watcher", "viewer", "correct-horse-2", actor=ADMIN)
        s.commit()
    cli("review", "refresh", "--days", "100000")
    with db.session() as s:
        item = s.scalar(select(ReviewItem.id))
    refused = cli("review", "approve", item, "--actor", "watcher", code=1)
    assert "watcher is a viewer" in refused and "'review' right" in refused
    assert "No user named 'ghost'" in cli("review", "approve", item, "--actor", "ghost", code=1)
    with db.session() as s:
        assert s.get(ReviewItem, item).status == ReviewStatus.OPEN  # nothing changed
    assert f"approved #{item}" in cli("review", "approve", item, "--actor", "ops")


def test_kb_prune_needs_manage_kb_and_a_dry_run_deletes_nothing(cli, db, settings):
    with db.session() as s:
        create_user(s, "ops", "reviewer", "correct-horse-1", actor=ADMIN)
        s.commit()
    folder = settings.index_dir
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / "kb-20260101-000000-deadbeef00.slkb.tmp"
    stale.write_bytes(b"SLK")
    os.utime(stale, (1, 1))  # written in 1970: long abandoned
    assert "manage_kb" in cli("kb", "prune", "--actor", "ops", code=1)
    out = cli("kb", "prune", "--dry-run")
    assert f"would delete {stale.name}" in out and stale.exists()
    assert f"deleted {stale.name}" in cli("kb", "prune") and not stale.exists()
