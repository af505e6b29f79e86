"""The chat widget in a real Chromium (Playwright) against the API served by uvicorn."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from core.feedback import links
from core.platform.models import Conversation, Feedback
from tests.factories import make_answer
from tests.factories.knowledge import hashing, make_kb
from tests.factories.servers import serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_widget_script_and_demo_are_served(settings):
    with TestClient(create_app(settings)) as client:
        js = client.get("/widget.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert "/api/v1/chat" in js.text and "Was this helpful?" in js.text
        demo = client.get("/widget/demo")
        assert demo.status_code == 200 and '<script src="/widget.js"' in demo.text


@pytest.mark.browser
@pytest.mark.slow
def test_customer_chats_and_votes_in_chromium(session, settings):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (make chromium)")
    from playwright.sync_api import sync_playwright  # reason: Playwright only where Chromium exists

    st = make_kb(session, settings)
    app = create_app(st)
    app.state.embedder = hashing()
    with serve_in_thread(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/widget/demo")
            page.fill("#sl-widget input[name=message]", "what is the adult price per adult guest")
            page.click("#sl-widget button[type=submit]")
            answer = page.locator(".sl-answer").first
            answer.wait_for(timeout=120_000)  # the first answer loads the models
            assert "sixty dollars" in answer.inner_text()
            fb = page.locator(".sl-fb").first
            assert "Was this helpful?" in fb.inner_text()

            page.wait_for_timeout(1100)  # a customer types; the chat limit is one message a second
            page.fill("#sl-widget input[name=message]", "kids price per child")
            page.click("#sl-widget button[type=submit]")
            page.locator(".sl-answer").nth(1).wait_for(timeout=60_000)

            page.locator(".sl-vote-down").first.click()
            page.locator(".sl-thanks").first.wait_for(timeout=10_000)
            assert page.locator(".sl-fb").first.inner_text() == "Thanks for your feedback!"
            assert page.locator(".sl-vote-up").count() == 1  # the second answer still has its thumbs
        finally:
            browser.close()
    session.expire_all()
    convs = session.scalars(select(Conversation)).all()
    assert len(convs) == 1 and convs[0].channel == "web" and len(convs[0].messages) == 4
    votes = session.execute(select(Feedback.vote, Feedback.voter, Feedback.source)).all()
    assert votes == [("down", convs[0].external_user_id, "widget")]


@pytest.mark.browser
@pytest.mark.slow
def test_feedback_link_votes_only_when_the_button_is_pressed(session, settings):
    """A link scanner that runs JavaScript opens the link and records nothing; the customer's
    press on the button records one vote."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (make chromium)")
    from playwright.sync_api import sync_playwright  # reason: Playwright only where Chromium exists

    _, _, ans = make_answer(session)
    link = links.email_footer(ans.id, session=session, settings=settings).down_url
    path = link.split("://", 1)[1].split("/", 1)[1]
    with serve_in_thread(create_app(settings)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(java_script_enabled=True)
            page.goto(f"{base}/{path}", wait_until="networkidle")
            page.wait_for_timeout(1500)  # time for any script that would submit the form
            assert page.evaluate("1 + 1") == 2  # JavaScript runs on this page's browser
            assert page.url.startswith(f"{base}/{path.split('?')[0]}") and "?" in page.url
            assert "Was this answer helpful?" in page.inner_text("body")
            assert _feedback(session) == []

            page.get_by_role("button", name="No, it was not helpful").click()
            page.get_by_text("Thank you for your feedback!").wait_for(timeout=10_000)
        finally:
            browser.close()
    assert _feedback(session) == [(ans.id, "down", "email")]


def _feedback(session) -> list[tuple]:
    session.expire_all()
    return session.execute(select(Feedback.message_id, Feedback.vote, Feedback.source)).all()
