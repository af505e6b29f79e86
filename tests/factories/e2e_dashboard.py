"""A dashboard and job runner of their own for end-to-end test modules that need other settings
than tests/e2e/conftest.py's shared one (e.g. the fine-tune flow against the local fake OpenAI
server): a test module overrides the ``dashboard`` fixture with :func:`running_dashboard`, and the
conftest's ``browser`` and ``app`` fixtures (which log in as ``ADMIN``) work on it unchanged."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from core.access import auth
from core.ops import alerts
from core.platform.actors import SYSTEM
from core.platform.clock import SystemClock
from core.platform.config import Settings
from core.platform.db import make_engine, session_factory, session_scope, upgrade
from tests.factories.dashboard import seed_conversations
from tests.factories.training import add_example
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN, PASSWORD = "e2e-admin", "e2e-password-1"  # the login tests/e2e/conftest.py's `app` uses


def seed_for_training(url: str, var: Path, examples: int = 24) -> Settings:
    """Conversations rolled up into metrics, ``examples`` approved training examples from this
    week, the default alert rules and the e2e admin."""
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, data_dir=var, index_dir=var / "indexes")
    factory = session_factory(make_engine(url))
    with factory() as s:
        seed_conversations(s, 20)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with session_scope(factory) as s:
        for i in range(examples):
            add_example(s, i, created_at=now - dt.timedelta(days=1))
        auth.create_user(s, ADMIN, "admin", PASSWORD, actor=SYSTEM)
        alerts.seed_default_rules(s, SystemClock())
    return settings


@contextmanager
def running_dashboard(settings: Settings, env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app.py` and `python -m jobs` on ``settings``' database (plus ``env``);
    yields the dashboard's URL, stops both at the end."""
    var = Path(settings.data_dir)
    full_env = dict(os.environ, SUPPORTLOOP_DATABASE_URL=settings.database_url,
                    SUPPORTLOOP_DATA_DIR=str(settings.data_dir),
                    SUPPORTLOOP_INDEX_DIR=str(settings.index_dir), HF_HUB_OFFLINE="1",
                    TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="", TOKENIZERS_PARALLELISM="false", **(env or {}))
    port = free_port()
    logs = [open(var / "streamlit.log", "wb"), open(var / "runner.log", "wb")]  # noqa: SIM115 - closed below
    procs = [
        subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                          "--server.port", str(port), "--server.headless", "true",
                          "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                         cwd=ROOT, env=full_env, stdout=logs[0],
                         stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "jobs"], cwd=ROOT, env=full_env, stdout=logs[1],
                         stderr=subprocess.STDOUT),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if procs[0].poll() is not None or time.monotonic() > deadline:
                log = (var / "streamlit.log").read_text()[-2000:]
                raise RuntimeError(f"the dashboard did not start: {log}")
            time.sleep(0.3)
        yield base
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()


def runner_log(settings: Settings) -> str:
    """The last lines the job runner wrote (for a failing test's message)."""
    path = Path(settings.data_dir) / "runner.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
