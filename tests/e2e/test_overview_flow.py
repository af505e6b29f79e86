"""The Overview and the alert rules in Chromium: tiles that fit (no truncated values), plain
labels and the period they cover; an alert rule added in the browser that fires when the job
runner checks it (queued from the page), shown with its severity. Screenshots under
test-artifacts/screenshots/."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories.browser import metric, open_page, pick_option, screenshot, settle

pytestmark = pytest.mark.browser

TRUNCATED_JS = """() => [...document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *, [data-testid="stMetricLabel"] *')]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


def _pick(app: Page, label: str, option: str) -> None:
    """Choose ``option`` in the (last) Streamlit selectbox labelled ``label``."""
    box = app.get_by_label(label, exact=True).last
    pick_option(app, box, option)
    expect(box).to_have_attribute("aria-expanded", "false")


def test_overview_tiles_fit_and_say_their_period(app):
    open_page(app, "Overview")
    assert int(metric(app, "Conversations")) >= 20  # the seeded conversations, all this month
    assert app.evaluate(TRUNCATED_JS) == []
    caption = app.get_by_text(re.compile(r"\(30 days\), every channel \(UTC days\), compared with")).first
    expect(caption).to_be_visible()
    body = app.locator("[data-testid='stMain']").first.inner_text()
    for word in ("containment_rate", "csat_avg", "frt_p50_s", "$346,"):
        assert word not in body, word
    # .first: while the page reruns (a job it follows ended) Streamlit shows the old copy beside the new
    expect(app.get_by_role("heading", name="Trends by day").first).to_be_visible()
    assert app.locator('[data-testid="stException"]').count() == 0
    screenshot(app, "55-overview")


def test_an_alert_rule_added_in_the_browser_fires(app):
    open_page(app, "Alerts and jobs")
    app.get_by_role("tab", name="Rules").click()
    app.get_by_text("Add a rule").click()
    form = app.locator('[data-testid="stForm"]').filter(has=app.get_by_role("button", name="Add rule"))
    form.get_by_label("Short name (letters, digits, _)").fill("busy_month")
    form.get_by_label("Title").fill("Busy month")
    _pick(app, "Watch", "Conversations")
    _pick(app, "Alert when the value", "rises above")
    form.get_by_label("Threshold (rates as 0-1)").fill("1")
    form.get_by_label("Window (minutes)").fill("1440")
    form.get_by_role("button", name="Add rule").click()
    settle(app)
    app.get_by_role("tab", name="Rules").click()
    _pick(app, "Rule", "Busy month")  # the new rule is offered (the table itself is a canvas)
    app.get_by_role("button", name="Try it now").click()
    tried = app.get_by_text(re.compile(r"Would fire: Conversations \d+ \(alert when above 1\)"))
    expect(tried).to_be_visible()
    screenshot(app, "56-alert-rule-tried")

    app.get_by_role("tab", name="Jobs and runner").click()
    _pick(app, "Run a job now", "Metrics and alerts")
    app.get_by_role("button", name="Queue now").click()
    app.get_by_text(re.compile(r"Metrics and alerts queued as job run #\d+")).wait_for()
    banner = app.locator('[data-testid="stAlertContentWarning"]').filter(has_text="Busy month")
    expect(banner.first).to_be_visible(timeout=180_000)  # the runner checked the rules: it fired
    assert metric(app, "Alerts firing now") != "0"
    screenshot(app, "57-alert-fired")

    open_page(app, "Overview")  # a warning shows as a warning there too, not as an error
    warning = app.locator('[data-testid="stAlertContentWarning"]').filter(has_text="Busy month")
    expect(warning.first).to_be_visible()
    assert app.locator('[data-testid="stAlertContentError"]').filter(has_text="Busy month").count() == 0
