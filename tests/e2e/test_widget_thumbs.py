"""The chat widget's thumbs are inline SVG icons with accessible names (no emoji, which shows as
empty boxes on machines without an emoji font), and a press still records the vote."""

import pytest
from sqlalchemy import select

from api.main import create_app
from core.platform.models import Feedback
from tests.factories.browser import screenshot
from tests.factories.knowledge import hashing, make_kb
from tests.factories.servers import serve_in_thread

pytestmark = pytest.mark.browser


def test_thumbs_are_labelled_svg_icons(session, settings, browser):
    app = create_app(make_kb(session, settings))
    app.state.embedder = hashing()
    with serve_in_thread(app) as base:
        page = browser.new_page(viewport={"width": 800, "height": 700})
        page.goto(f"{base}/widget/demo")
        page.fill("#sl-widget input[name=message]", "what is the adult price per adult guest")
        page.click("#sl-widget button[type=submit]")
        page.locator(".sl-answer, .sl-err").first.wait_for(timeout=120_000)  # the first answer loads models
        assert page.locator(".sl-err").count() == 0, page.inner_text("#sl-widget")
        up = page.get_by_role("button", name="Yes, helpful")
        down = page.get_by_role("button", name="No, not helpful")
        for button in (up, down):
            assert button.locator("svg path").count() == 1
            assert button.locator("svg").get_attribute("aria-hidden") == "true"
            assert button.inner_text().strip() == ""  # an icon only: no emoji, no text to mis-render
            box = button.locator("svg").bounding_box()
            assert box and box["width"] == 16 and box["height"] == 16  # drawn, not an empty box
        assert "\U0001f44d" not in page.inner_text("#sl-widget")
        screenshot(page, "30-widget-thumbs")
        down.click()
        page.locator(".sl-thanks").wait_for(timeout=10_000)
        page.close()
    session.expire_all()
    assert session.scalars(select(Feedback.vote)).all() == ["down"]
