"""The chat widget in a real Chromium (Playwright) against the API served by uvicorn."""

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from core.platform.models import Conversation, Feedback
from tests.api.test_chat import make_kb
from tests.core.kb_helpers import hashing

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app):
    """Run ``app`` with uvicorn on a free loopback port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


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
    from playwright.sync_api import sync_playwright

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
            answer.wait_for(timeout=30_000)
            assert "sixty dollars" in answer.inner_text()
            fb = page.locator(".sl-fb").first
            assert "Was this helpful?" in fb.inner_text()

            page.fill("#sl-widget input[name=message]", "kids price per child")
            page.click("#sl-widget button[type=submit]")
            page.locator(".sl-answer").nth(1).wait_for(timeout=30_000)

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
