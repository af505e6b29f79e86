"""The runner (`python -m jobs`) refuses to start with a known or short link-signing secret."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _jobs(db, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTLOOP_")}
    env = dict(base, SUPPORTLOOP_DATABASE_URL=db.url, SUPPORTLOOP_DATA_DIR=str(tmp_path / "var"),
               SUPPORTLOOP_INDEX_DIR=str(tmp_path / "var" / "indexes"), PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "jobs", "--list"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_the_runner_refuses_a_known_secret_unless_the_development_flag_is_set(db, tmp_path):
    if db.backend == "postgresql":
        pytest.skip("the secret check runs before the database is opened; one backend is enough")
    refused = _jobs(db, tmp_path, SUPPORTLOOP_SECRET_KEY="change-me-in-production")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "The job runner refuses to start" in refused.stderr and "published default" in refused.stderr
    allowed = _jobs(db, tmp_path, SUPPORTLOOP_SECRET_KEY="change-me-in-production",
                    SUPPORTLOOP_ALLOW_INSECURE_SECRET="true")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    generated = _jobs(db, tmp_path)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert (tmp_path / "var" / "secret_key").exists()
