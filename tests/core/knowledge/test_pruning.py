"""Pruning index files (core.knowledge.versions.prune_index_files): files of old unused versions,
of killed builds and temporary files go; the active version, the rollback versions and versions
a running experiment uses stay."""

import dataclasses
import datetime as dt
import os
import time
from pathlib import Path

import pytest

from core.knowledge.index import IndexFileError
from core.knowledge.versions import activate_version, build_version, prune_index_files, rollback
from core.platform.clock import FixedClock
from core.platform.errors import PermissionDenied
from core.platform.models import Experiment
from core.platform.statuses import ExperimentKind, KBVersionStatus
from tests.factories import ADMIN, REVIEWER
from tests.factories.knowledge import T0, hashing, kb_settings, seed

DAY = dt.timedelta(days=1)


def _old(path: Path, hours: float) -> Path:
    stamp = time.time() - hours * 3600
    os.utime(path, (stamp, stamp))
    return path


def _versions(session, st, clock, n: int) -> list:
    """``n`` versions built a day apart, each activated in turn (the last one is active)."""
    made = []
    for _ in range(n):
        v = build_version(session, hashing(), st, actor=ADMIN, clock=clock)
        activate_version(session, v.id, st, actor=ADMIN, clock=clock, force=True)
        made.append(v)
        clock.advance(days=1)
    return made


def test_prune_keeps_what_is_needed_and_deletes_the_rest(session, settings):
    st = kb_settings(settings)
    st.ensure_dirs()
    clock = FixedClock(T0)
    seed(session, clock=clock)
    v1, v2, v3, v4 = _versions(session, st, clock, 4)  # v4 active; v3, v2 the rollback versions
    candidate = build_version(session, hashing(), st, actor=ADMIN, clock=clock)
    tested = build_version(session, hashing(), st, actor=ADMIN, clock=clock)
    session.add(Experiment(
        name="kb test", kind=ExperimentKind.KB_VERSION, control={"kb_version_id": v4.id},
        candidate={"kb_version_id": tested.id}, salt="s", started_at=T0, planned_end_at=T0 + 7 * DAY,
        created_by=ADMIN.name,
    ))
    session.commit()
    folder = Path(st.index_dir)
    killed = folder / "kb-20260101-000000-deadbeef00.slkb"  # a killed build's file
    killed.write_bytes(b"SLKB1\n")
    _old(killed, 7)
    partial = folder / "kb-20260101-000001-deadbeef01.slkb.tmp"
    partial.write_bytes(b"SLK")
    _old(partial, 7)
    building = folder / "kb-20260101-000002-deadbeef02.slkb"  # written a minute ago: a build in progress
    building.write_bytes(b"SLKB1\n")
    notes = folder / "README.txt"
    notes.write_text("not ours")
    _old(notes, 1000)

    late = FixedClock(T0 + 40 * DAY)
    preview = prune_index_files(session, st, actor=ADMIN, clock=late, dry_run=True)
    assert sorted(preview.deleted) == sorted([v1.index_file, candidate.index_file, killed.name, partial.name])
    assert set(preview.versions) == {v1.id, candidate.id}
    assert all((folder / name).exists() for name in preview.deleted)  # a dry run deletes nothing

    with pytest.raises(PermissionDenied, match="manage_kb"):
        prune_index_files(session, st, actor=REVIEWER, clock=late)
    report = prune_index_files(session, st, actor=ADMIN, clock=late)
    session.commit()
    assert sorted(report.deleted) == sorted(preview.deleted) and report.freed_bytes > 0
    assert {p.name for p in folder.iterdir()} == {
        v2.index_file, v3.index_file, v4.index_file, tested.index_file, building.name, notes.name}
    assert "active" in report.kept[v4.index_file] and "rollback" in report.kept[v2.index_file]
    assert "experiment" in report.kept[tested.index_file]
    # the kept versions still work; a pruned one is refused with a clear error
    assert rollback(session, st, actor=ADMIN, clock=late).id == v3.id
    with pytest.raises(IndexFileError):
        activate_version(session, v1.id, st, actor=ADMIN, clock=late, force=True)
    assert prune_index_files(session, st, actor=ADMIN, clock=late).deleted == []


def test_young_versions_are_kept_until_the_configured_age(session, settings):
    st = kb_settings(settings).model_copy(update={"kb_prune_after_days": 10, "kb_rollback_versions": 1})
    st.ensure_dirs()
    clock = FixedClock(T0)
    seed(session, clock=clock)
    v1, v2, v3 = _versions(session, st, clock, 3)  # v1 retired at T0+1d, v2 (rollback) at T0+2d
    session.commit()
    assert prune_index_files(session, st, actor=ADMIN, clock=FixedClock(T0 + 10 * DAY)).deleted == []
    later = FixedClock(T0 + 12 * DAY)
    assert prune_index_files(session, st, actor=ADMIN, clock=later).deleted == [v1.index_file]
    assert session.get(type(v1), v1.id).status == KBVersionStatus.RETIRED  # the row stays


def test_a_build_whose_version_row_fails_removes_its_file(session, settings):
    st = kb_settings(settings)
    st.ensure_dirs()
    seed(session)
    before = set(Path(st.index_dir).iterdir())
    nameless = dataclasses.replace(ADMIN, name=None)  # the database refuses a version without a builder
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError, whichever the driver's class
        build_version(session, hashing(), st, actor=nameless)
    session.rollback()
    assert set(Path(st.index_dir).iterdir()) == before
