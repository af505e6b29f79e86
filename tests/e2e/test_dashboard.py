"""The dashboard in a real browser: log in, every page, and the learning loop by hand
(approve a held draft, see it in the KB after a refresh run by the job runner, roll the KB back,
queue a dataset build)."""

import re

import pytest

from tests.factories.browser import (
    HELD_ANSWER,
    HELD_QUESTION,
    metric,
    not_plain,
    open_page,
    page_text,
    screenshot,
    wait_metric,
)

pytestmark = pytest.mark.browser

PAGES = ["Overview", "Conversations", "Review queue", "Knowledge base", "Knowledge gaps", "Training",
         "Experiments", "Alerts and jobs", "Users"]


def test_login_is_required(dashboard, browser):
    page = browser.new_page()
    page.goto(dashboard)
    page.get_by_role("button", name="Log in").wait_for()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    page.get_by_role("textbox", name="User name").fill("nobody")
    page.get_by_role("textbox", name="Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Wrong user name or password").wait_for()
    screenshot(page, "00-login")
    page.close()


def test_every_page_renders_in_plain_words(app):
    """Every page and each of its tabs: no exception, no JSON, internal words or machine times."""
    nav = app.locator('[data-testid="stSidebarNav"]')
    for i, title in enumerate(PAGES, start=1):
        assert nav.get_by_role("link", name=title, exact=True).count() == 1, f"{title} missing from the menu"
        open_page(app, title)
        assert app.locator('[data-testid="stException"]').count() == 0, f"{title} raised"
        name = f"{i:02d}-{title.lower().replace(' ', '-')}"
        screenshot(app, name)
        found = not_plain(page_text(app))
        assert found == [], (title, found)
        tabs = app.get_by_role("tab")
        for t in range(1, tabs.count()):  # the first tab is open already
            tab = tabs.nth(t)
            label = tab.inner_text().strip()
            tab.click()
            app.wait_for_timeout(300)
            found = not_plain(page_text(app))
            assert found == [], (title, label, found)
            screenshot(app, f"{name}-{label.lower().replace(' ', '-')}")


def test_approve_held_draft_refresh_kb_and_roll_back(app):
    open_page(app, "Review queue")
    assert metric(app, "Held drafts waiting") == "1"
    app.get_by_text(HELD_QUESTION).first.wait_for()
    app.get_by_role("button", name="Approve + promote to KB").click()
    wait_metric(app, "Held drafts waiting", "0")
    wait_metric(app, "Decided", "1")
    screenshot(app, "10-review-after-approve")

    open_page(app, "Knowledge base")
    wait_metric(app, "Proposed", "1")
    before = metric(app, "Active version")
    app.get_by_role("tab", name="Versions").click()
    app.get_by_role("button", name="Refresh now: build, evaluate, activate if not worse").click()
    app.get_by_text(re.compile(r"KB refresh queued as job run #\d+")).wait_for(timeout=60_000)
    open_page(app, "Alerts and jobs")  # the job runner (started beside the dashboard) runs it
    app.get_by_text("Job queue").first.wait_for()
    screenshot(app, "11-jobs-with-the-queued-refresh")
    app.get_by_text("Nothing queued or running").wait_for(timeout=180_000)
    open_page(app, "Knowledge base")
    wait_metric(app, "Active chunks", "4")
    screenshot(app, "11-kb-after-refresh")
    assert metric(app, "Active version") != before and metric(app, "Proposed") == "0"

    app.get_by_role("tab", name="Search playground").click()
    app.get_by_role("textbox", name="Ask like a customer would").fill("gluten free sauce")
    app.get_by_role("textbox", name="Ask like a customer would").press("Enter")
    app.get_by_text(HELD_ANSWER[:40]).first.wait_for()
    screenshot(app, "12-kb-search")

    app.get_by_role("tab", name="Versions").click()
    app.get_by_role("button", name="Roll back to the previous version").click()
    wait_metric(app, "Active version", before)
    screenshot(app, "13-kb-after-rollback")


def test_launch_a_dataset_build(app):
    open_page(app, "Training")
    app.get_by_role("button", name="Build a dataset now").click()
    app.get_by_text(re.compile(r"Dataset build queued as job run #\d+")).first.wait_for(timeout=60_000)
    assert app.locator('[data-testid="stException"]').count() == 0
    screenshot(app, "14-training-after-build")
