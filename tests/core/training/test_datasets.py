"""Dataset versions, on SQLite and PostgreSQL: only an admin approves or rejects, only an approved
dataset with intact files exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.platform.errors import Conflict, PermissionDenied, ValidationError
from core.training.builder import build_dataset
from core.training.datasets import (
    approve_dataset,
    export_dataset,
    export_dir,
    exported_files,
    get_dataset,
    reject_dataset,
)
from tests.factories import ADMIN, REVIEWER, VIEWER
from tests.factories.training import T0, add_example


def test_only_an_admin_approves_and_only_approved_datasets_export(session, settings, scrubber, clock,
                                                                 tmp_path):
    for i in range(12):
        add_example(session, i)
    d = build_dataset(session, settings, scrubber, actor=ADMIN, clock=clock)
    with pytest.raises(Conflict, match="only an approved dataset"):
        export_dataset(session, settings, d.id, tmp_path / "out", actor=ADMIN)
    with pytest.raises(PermissionDenied, match=f"{REVIEWER.name} is a reviewer"):
        approve_dataset(session, settings, d.id, REVIEWER)
    with pytest.raises(PermissionDenied):
        reject_dataset(session, settings, d.id, VIEWER, "no")
    ok = approve_dataset(session, settings, d.id, ADMIN, clock=clock)
    assert ok.status == "approved" and ok.decided_by == ADMIN.name and ok.decided_at == T0
    with pytest.raises(Conflict, match="already approved"):
        reject_dataset(session, settings, d.id, ADMIN, "changed my mind")
    with pytest.raises(PermissionDenied):
        export_dataset(session, settings, d.id, tmp_path / "out", actor=REVIEWER)
    out = export_dataset(session, settings, d.id, tmp_path / "out", actor=ADMIN)
    assert out["files"]["train"]["ok"] and Path(out["files"]["train"]["path"]).exists()
    assert out["files"]["train"]["sha256"] == d.train_sha256
    # a second dataset: its file is tampered with, so it cannot be approved; then rejected
    d2 = build_dataset(session, settings, scrubber, actor=ADMIN, clock=clock)
    path = Path(settings.data_dir) / d2.train_file
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(Conflict, match="checksum mismatch"):
        approve_dataset(session, settings, d2.id, ADMIN)
    with pytest.raises(ValidationError, match="why"):
        reject_dataset(session, settings, d2.id, ADMIN, " ")
    assert reject_dataset(session, settings, d2.id, ADMIN, "tampered").status == "rejected"
    assert get_dataset(session, d2.id).decision_reason == "tampered"


def test_the_dashboard_export_folder_holds_only_finished_exports(session, settings, scrubber, clock):
    for i in range(12):
        add_example(session, i)
    d = build_dataset(session, settings, scrubber, actor=ADMIN, clock=clock)
    approve_dataset(session, settings, d.id, ADMIN, clock=clock)
    assert exported_files(settings, d.id) == {}
    export_dataset(session, settings, d.id, export_dir(settings, d.id), actor=ADMIN)
    files = exported_files(settings, d.id)
    assert set(files) >= {"train"} and files["train"].name == f"dataset-{d.id}-train.jsonl"
    assert not list(export_dir(settings, d.id).glob("*.part"))
