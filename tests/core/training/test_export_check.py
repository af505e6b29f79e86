"""The independent PII check on datasets: the build refuses a flagged example, the export refuses a
flagged line (with its number and type), and an admin's approval of exactly that text lets it pass."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from cli import main
from core.platform import pii_check
from core.platform.errors import PermissionDenied, ValidationError
from core.platform.models import AuditLog
from core.training.builder import build_dataset
from core.training.datasets import (
    approve_dataset,
    approve_example,
    approve_line,
    dataset_paths,
    export_dataset,
    get_dataset,
)
from tests.factories import ADMIN, REVIEWER
from tests.factories.training import add_example

# the scrubber leaves "Rice" (an English word, no cue before it); the independent export
# check takes it for a name, so this answer needs an admin's approval to leave
FLAGGED = "The chef trained under Rice for years and arrives an hour early."


def _build(session, settings, scrubber, clock):
    return build_dataset(session, settings, scrubber, actor=ADMIN, clock=clock)


def test_build_refuses_then_admin_approval_lets_it_in(session, settings, scrubber, clock, tmp_path):
    for i in range(4):
        add_example(session, i)
    ex = add_example(session, 9, answer=FLAGGED)
    first = _build(session, settings, scrubber, clock)
    assert first.skipped.get("pii_check") == 1
    refused = [r for r in first.counts["pii_check_refused"] if r["training_example_id"] == ex.id]
    assert refused and "PERSON" in refused[0]["types"]

    with pytest.raises(PermissionDenied, match="view_raw"):
        approve_example(session, ex.id, scrubber, actor=REVIEWER)
    approve_example(session, ex.id, scrubber, actor=ADMIN)
    second = _build(session, settings, scrubber, clock)
    assert "pii_check" not in second.skipped and second.examples == first.examples + 1

    # the export re-checks every line: without the approval it is refused with line and type
    approve_dataset(session, settings, second.id, ADMIN, clock=clock)
    session.execute(delete(AuditLog).where(AuditLog.action == pii_check.APPROVE_ACTION))
    with pytest.raises(ValidationError) as err:
        export_dataset(session, settings, second.id, tmp_path / "out", actor=ADMIN)
    msg = str(err.value)
    assert "PERSON" in msg and "line " in msg and "Rice" not in msg
    assert not list((tmp_path / "out").glob("*.jsonl"))
    version = get_dataset(session, second.id)
    split, line = next(
        (split, n) for split, path in dataset_paths(settings, version).items()
        for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "Rice" in row
    )
    assert f"({split}.jsonl)" in msg and f"line {line}: PERSON" in msg
    approve_line(session, settings, second.id, split, line, actor=ADMIN)
    out = export_dataset(session, settings, second.id, tmp_path / "out", actor=ADMIN)
    assert sum(f["lines"] for f in out["files"].values()) == second.examples


def test_cli_approve_needs_one_target():
    result = CliRunner().invoke(main, ["pii", "approve", "--chunk", "1", "--example", "2"])
    assert result.exit_code != 0 and "Give --dataset ID --line N" in result.output


def test_cli_check_flags_lines_and_exits_1():
    result = CliRunner().invoke(main, ["pii", "check", "-"], input="all fine\ncall 415-555-0132 please\n")
    assert result.exit_code == 1 and "line 2: PHONE_NUMBER" in result.output
    result = CliRunner().invoke(main, ["pii", "check", "-"], input="all fine\n")
    assert result.exit_code == 0 and "nothing flagged" in result.output
