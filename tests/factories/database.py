"""The PostgreSQL server the tests use (127.0.0.1:5432, user postgres, or
SUPPORTLOOP_TEST_PG_URL) and what a test does when it cannot reach it.

Outside CI an unreachable PostgreSQL skips its half of a test with a clear message; under CI
(CI=true) it fails.
"""

from __future__ import annotations

import os

import pytest

PG_ADMIN_URL = os.environ.get(
    "SUPPORTLOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_unavailable(reason: str) -> None:
    """Skip (or, under CI, fail) the running test because PostgreSQL cannot be reached."""
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable ({reason}); start it with "
                "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
