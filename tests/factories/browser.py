"""Playwright helpers for the end-to-end dashboard tests: log in, move between pages, wait for
Streamlit, read metric tiles, take screenshots (test-artifacts/screenshots/, gitignored)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# the held draft the seeded dashboard shows in the review queue
HELD_QUESTION = "Do you have a gluten free sauce?"
HELD_ANSWER = "Yes: our chef brings a gluten-free tamari teriyaki sauce on request, at no extra charge."


def login(page: Page, base: str, name: str, password: str) -> None:
    """Log in on the dashboard at ``base`` and wait for the menu."""
    page.goto(base)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator('[data-testid="stSidebarNav"]').wait_for()
    settle(page)


def settle(page: Page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    page.wait_for_timeout(200)


def open_page(page: Page, title: str) -> None:
    """Click ``title`` in the sidebar menu and wait until that page has rendered."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    expect(page.locator("h1").first).to_contain_text(title, timeout=60_000)
    settle(page)


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot as ``SCREENSHOTS/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def metric_value(page: Page, label: str) -> Locator:
    """The value of the metric tile whose label contains ``label``."""
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]')


def metric(page: Page, label: str) -> str:
    """The text of the metric tile ``label``."""
    return metric_value(page, label).inner_text().strip()


def wait_metric(page: Page, label: str, value: str, timeout_ms: int = 60_000) -> None:
    """Wait until the tile ``label`` shows ``value`` (after an action reruns the page)."""
    expect(metric_value(page, label)).to_have_text(value, timeout=timeout_ms)
