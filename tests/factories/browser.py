"""Playwright helpers for the end-to-end dashboard tests: log in, move between pages, wait for
Streamlit, read metric tiles, take screenshots (test-artifacts/screenshots/, gitignored)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# the held draft the seeded dashboard shows in the review queue
HELD_QUESTION = "Do you have a gluten free sauce?"
HELD_ANSWER = "Yes: our chef brings a gluten-free tamari teriyaki sauce on request, at no extra charge."
ADMIN, PASSWORD = "e2e-admin", "e2e-password-1"  # the seeded admin of tests/e2e/conftest.py
SIDEBAR = '[data-testid="stSidebarNav"]'


def fill_login(page: Page, name: str, password: str) -> None:
    """Fill and send the login form of the page open in ``page``."""
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def login(page: Page, base: str, name: str, password: str) -> None:
    """Log in on the dashboard at ``base`` and wait for the menu."""
    page.goto(base)
    fill_login(page, name, password)
    page.locator(SIDEBAR).wait_for()
    settle(page)


def title(page: Page) -> Locator:
    """The page's heading (its title)."""
    return page.locator("h1").first


def settle(page: Page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    page.wait_for_timeout(200)


def open_page(page: Page, title: str) -> None:
    """Click ``title`` in the sidebar menu and wait until that page has rendered. The page in
    view may rerun as a whole when a job it follows ends, just as the link is clicked: then the
    click is lost, and it is made once more."""
    settle(page)
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
    heading = page.locator("h1").first
    link.click()
    try:
        expect(heading).to_contain_text(title, timeout=20_000)
    except AssertionError:
        settle(page)
        link.click()
        expect(heading).to_contain_text(title, timeout=60_000)
    settle(page)


# Streamlit scrolls its main area inside the window, so a "full page" screenshot shows only the
# first screen: the window is made as tall as that area (or the document, on other pages) for the
# picture, then put back.
CONTENT_HEIGHT_JS = """() => Math.max(document.documentElement.scrollHeight, ...[...document.querySelectorAll(
    '[data-testid="stMain"], [data-testid="stMainBlockContainer"], [data-testid="stSidebarContent"]')]
  .map(e => e.scrollHeight))"""


def screenshot(page: Page, name: str) -> None:
    """Save a screenshot of the whole page (everything below the first screen too) as
    ``SCREENSHOTS/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = min(int(page.evaluate(CONTENT_HEIGHT_JS) or 0), 12_000)
    if size and height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height + 40})
        page.wait_for_timeout(300)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        if size:
            page.set_viewport_size(size)


# What an admin must never read on a page: JSON, internal words (snake_case statuses and keys),
# machine timestamps (ISO "T", seconds with microseconds).
NOT_PLAIN = {
    "JSON": re.compile(r"[{\[]\s*\"[A-Za-z_]+\"\s*:"),
    "an internal word": re.compile(r"\b[a-z]+(?:_[a-z]+)+\b"),
    "a machine timestamp": re.compile(r"\d{4}-\d\d-\d\dT\d\d|\d\d:\d\d:\d\d\.\d+"),
}


def not_plain(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """The pieces of ``text`` an admin should not see, each with what it is (empty when the text
    is plain words). ``allowed`` are words the test itself typed (a rule's short name)."""
    found = []
    for what, pattern in NOT_PLAIN.items():
        found += [f"{what}: {m.group(0)!r}" for m in pattern.finditer(text) if m.group(0) not in allowed]
    return found


# the visible text of the main area and the sidebar, without the names of Material icons (drawn
# from ligatures such as "task_alt")
PAGE_TEXT_JS = """() => [...document.querySelectorAll('[data-testid="stMain"], [data-testid="stSidebar"]')]
  .map(root => {
    const icons = [...root.querySelectorAll('span, i')]
      .filter(e => getComputedStyle(e).fontFamily.includes("Material Symbols"));
    icons.forEach(i => i.style.setProperty("display", "none"));
    const text = root.innerText;
    icons.forEach(i => i.style.removeProperty("display"));
    return text;
  }).join("\\n")"""


def page_text(page: Page) -> str:
    """The visible text of the main area and the sidebar (tables drawn on a canvas excluded)."""
    return page.evaluate(PAGE_TEXT_JS)


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


def selectbox(page: Page, label: str, within: Locator | None = None) -> Locator:
    """The Streamlit selectbox (a combobox) labelled ``label``, in the main area unless ``within``."""
    return (within or page.get_by_test_id("stMain")).get_by_role("combobox", name=label, exact=True).first


def options(page: Page, label: str) -> list[str]:
    """The option texts of the selectbox ``label``, in order."""
    selectbox(page, label).click()
    texts = [t.strip() for t in page.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    return texts


def choose(page: Page, label: str, option: str, within: Locator | None = None) -> None:
    """Pick ``option`` (its full text) in the selectbox ``label`` and wait for the rerun; the list
    is opened again until it offers the option (a rerun may replace the list while it opens)."""
    pick_option(page, selectbox(page, label, within), option)
    settle(page)


def pick_option(page: Page, box: Locator, option: str) -> None:
    """Open the selectbox ``box`` and click ``option``; both are tried again when a rerun of the
    page (a job it follows ended) replaces the list while it opens or as it is clicked."""
    choice = page.get_by_role("option", name=option, exact=True).first
    for _ in range(10):
        if box.get_attribute("aria-expanded") != "true":
            box.click()
        try:
            choice.wait_for(timeout=3000)
            choice.click(timeout=5000)
            return
        except PlaywrightTimeoutError:
            box.press("Escape")
            page.wait_for_timeout(500)
    raise AssertionError(f"the option {option!r} could not be chosen")


def chosen(page: Page, label: str) -> str:
    """The text of the option selected in the selectbox ``label``."""
    return selectbox(page, label).input_value().strip()
