"""The knowledge-base flow in Chromium, as an admin would: reject a proposal with a reason,
archive another, queue "Refresh now" for the job runner and see its outcome in plain words with
the next scheduled refresh, then roll back to the previous version. Each step is recounted from
the rows. Screenshots under test-artifacts/screenshots/."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from core.knowledge import chunks as knowledge
from core.knowledge.versions import active_version
from core.platform.actors import SYSTEM
from core.platform.db import make_engine, session_factory, session_scope
from core.platform.models import Chunk
from core.platform.statuses import ChunkStatus
from tests.factories.browser import choose, metric, open_page, options, screenshot, settle

pytestmark = pytest.mark.browser
PROPOSALS = {
    "reject": ("Parking", "Guests park on the street; the chef needs one spot near the gate."),
    "archive": ("Rain plan", "When it rains the chef cooks under a covered patio or a canopy you provide."),
    "keep": ("Grill space", "The grill needs a flat space of about ten by ten feet outdoors."),
}


@pytest.fixture(scope="module")
def factory(dashboard_settings):
    return session_factory(make_engine(dashboard_settings.database_url))


@pytest.fixture(scope="module")
def proposed(factory) -> dict[str, int]:
    with session_scope(factory) as s:
        return {key: knowledge.propose_chunk(s, actor=SYSTEM, title=title, text=text, category="logistics",
                                             source_type="manual").id
                for key, (title, text) in PROPOSALS.items()}


def _status(factory, chunk_id: int) -> str:
    with factory() as s:
        return s.get(Chunk, chunk_id).status


def _wait_status(app: Page, factory, chunk_id: int, status: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while _status(factory, chunk_id) != status:
        if time.monotonic() > deadline:
            screenshot(app, f"fail-chunk-{chunk_id}")
            raise AssertionError(f"chunk {chunk_id} is {_status(factory, chunk_id)}, not {status}")
        time.sleep(0.5)
    settle(app)


def _label(chunk_id: int, key: str) -> str:
    return f"#{chunk_id} · proposed · {PROPOSALS[key][0]}"


def _active_id(factory) -> int:
    with factory() as s:
        return active_version(s).id


def _wait_active(app: Page, factory, version_id: int, timeout_s: float = 240) -> None:
    """Wait until the runner has activated ``version_id``, then until the page shows it."""
    deadline = time.monotonic() + timeout_s
    while _active_id(factory) != version_id:
        assert time.monotonic() < deadline, "the queued refresh did not activate a new version"
        time.sleep(2)
    _wait_page_shows(app, f"v{version_id}")


def _wait_page_shows(app: Page, version: str, timeout_s: float = 90) -> None:
    """Open the page until its tile shows ``version`` (the dashboard caches queries briefly)."""
    deadline = time.monotonic() + timeout_s
    while True:
        open_page(app, "Knowledge base")
        if metric(app, "Active version") == version:
            return
        assert time.monotonic() < deadline, f"the page still shows {metric(app, 'Active version')}"
        time.sleep(3)


def test_reject_archive_refresh_and_roll_back(app, factory, proposed):
    open_page(app, "Knowledge base")
    choose(app, "Status", "proposed")
    assert {_label(i, k) for k, i in proposed.items()} <= set(options(app, "Chunk"))

    choose(app, "Chunk", _label(proposed["reject"], "reject"))
    app.get_by_label("Why reject this proposal?").fill("we have no parking rule")
    app.get_by_role("button", name="Reject proposal").click()
    _wait_status(app, factory, proposed["reject"], ChunkStatus.ARCHIVED)
    assert _label(proposed["reject"], "reject") not in options(app, "Chunk")

    choose(app, "Chunk", _label(proposed["archive"], "archive"))
    app.get_by_role("button", name="Archive").click()
    _wait_status(app, factory, proposed["archive"], ChunkStatus.ARCHIVED)
    screenshot(app, "40-knowledge-proposals")

    before = _active_id(factory)
    app.get_by_role("tab", name="Versions").click()
    expect(app.get_by_text(re.compile(r"Next scheduled refresh: .+"))).to_be_visible()
    app.get_by_role("button", name=re.compile("Refresh now")).click()
    expect(app.get_by_text(re.compile(r"queued as job run #\d+")).first).to_be_visible()
    _wait_active(app, factory, before + 1)
    assert _status(factory, proposed["keep"]) == ChunkStatus.ACTIVE  # the kept proposal joined
    app.get_by_role("tab", name="Versions").click()
    expect(app.get_by_text(re.compile(r"Last refresh \(.+\): Version \d+ is live")).first).to_be_visible()
    body = app.locator("[data-testid='stMain']").first.inner_text()
    assert "{" not in body and "refresh_completed" not in body
    screenshot(app, "41-knowledge-refreshed")

    settle(app)  # the page reruns as a whole once it has seen the refresh end
    app.get_by_role("button", name="Roll back to the previous version").click()
    settle(app)
    assert _active_id(factory) == before
    _wait_page_shows(app, f"v{before}")
    screenshot(app, "42-knowledge-rolled-back")
