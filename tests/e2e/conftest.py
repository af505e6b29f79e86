"""End-to-end fixtures: the real dashboard (`streamlit run app.py`) on a free port against a
seeded SQLite database, and Debian's Chromium driven by Playwright (never `playwright install`).

The helpers the tests call (log in, open a page, read a metric, screenshots) are in
``tests.factories.browser``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from core.access import auth
from core.knowledge import chunks as knowledge
from core.knowledge import refresh
from core.ops import alerts
from core.platform.actors import SYSTEM
from core.platform.clock import SystemClock
from core.platform.config import Settings
from core.platform.db import make_engine, session_factory, session_scope, upgrade
from core.platform.embeddings import get_embedder
from tests.factories.browser import ADMIN, HELD_ANSWER, HELD_QUESTION, PASSWORD, login
from tests.factories.dashboard import seed_held_draft, seed_review_items
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
KB = [
    {"external_id": ext, "title": title, "text": text, "category": cat}
    for ext, title, text, cat in [
        ("kb-price", "Adult price", "Adults are $60 per person.", "pricing"),
        ("kb-travel", "Travel fee", "Travel to Irvine costs $50.", "travel"),
        ("kb-kids", "Kids price", "Kids under 12 are $30.", "pricing"),
    ]
]


def seed(url: str, var: Path) -> Settings:
    """A database with conversations and their answers in the review queue, metrics, a held draft,
    a KB with one active version and an admin."""
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, data_dir=var, index_dir=var / "indexes")
    factory = session_factory(make_engine(url))
    with factory() as s:
        seed_review_items(s, 20)  # 20 conversations, each with an answer in the review queue
        seed_held_draft(s, settings, HELD_QUESTION, HELD_ANSWER)
    with session_scope(factory) as s:
        knowledge.import_chunks(s, KB, actor=SYSTEM)
        refresh.weekly_refresh(s, get_embedder(settings), settings, actor=SYSTEM)
        auth.create_user(s, ADMIN, "admin", PASSWORD, actor=SYSTEM)
        alerts.seed_default_rules(s, SystemClock())
    return settings


@pytest.fixture(scope="module")
def dashboard_settings(tmp_path_factory) -> Settings:
    """The settings (seeded database, data folders) of the module's dashboard: a test may add rows."""
    var = tmp_path_factory.mktemp("e2e") / "var"
    return seed(f"sqlite:///{var / 'supportloop.db'}", var)


@pytest.fixture(scope="module")
def dashboard(dashboard_settings):
    """The URL of a running dashboard on a seeded database; stopped at the end."""
    settings = dashboard_settings
    var, url = Path(settings.data_dir), settings.database_url
    port = free_port()
    env = dict(os.environ, SUPPORTLOOP_DATABASE_URL=url, SUPPORTLOOP_DATA_DIR=str(settings.data_dir),
               SUPPORTLOOP_INDEX_DIR=str(settings.index_dir), HF_HUB_OFFLINE="1",
               TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="", TOKENIZERS_PARALLELISM="false")
    log = open(var / "streamlit.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    # the job runner beside it: the dashboard's long actions are queued and run there
    runner_log = open(var / "runner.log", "wb")  # noqa: SIM115 - closed below
    runner = subprocess.Popen([sys.executable, "-m", "jobs"], cwd=ROOT, env=env, stdout=runner_log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the dashboard did not start in 60 s: " + (var / "streamlit.log").read_text()[-2000:])
    if proc.poll() is not None:
        pytest.fail("the dashboard exited: " + (var / "streamlit.log").read_text()[-2000:])
    yield base
    for p in (proc, runner):
        p.terminate()
    for p in (proc, runner):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
    log.close()
    runner_log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is missing: run `make chromium` (installs Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def app(dashboard, browser):
    """A logged-in page (1440x1000) on the dashboard, in its own browser context (more tabs:
    ``app.context.new_page()``)."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    login(page, dashboard, ADMIN, PASSWORD)
    yield page
    context.close()
