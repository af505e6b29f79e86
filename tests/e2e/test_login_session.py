"""The login survives a reload and a new tab (a signed session cookie), a bookmarked page URL
returns to that page after login, and logging out revokes the cookie on the server."""

import pytest
from playwright.sync_api import expect

from tests.factories.browser import (
    ADMIN,
    PASSWORD,
    SIDEBAR,
    choose,
    fill_login,
    open_page,
    screenshot,
    settle,
    title,
)

pytestmark = pytest.mark.browser


def test_a_reload_and_a_new_tab_keep_the_login(app, dashboard):
    app.wait_for_function("document.cookie.includes('supportloop_session=')")
    cookie = next(c for c in app.context.cookies() if c["name"] == "supportloop_session")
    assert cookie["sameSite"] == "Strict" and cookie["value"].count(".") == 2
    assert cookie["expires"] > 0  # expires with the login, not with the browser session
    app.reload()
    app.locator(SIDEBAR).wait_for()
    assert app.get_by_role("button", name="Log in").count() == 0
    tab = app.context.new_page()
    tab.goto(f"{dashboard}/conversations")
    expect(title(tab)).to_contain_text("Conversations", timeout=60_000)
    settle(tab)
    screenshot(tab, "02-new-tab-still-logged-in")
    tab.close()


def test_a_bookmarked_page_opens_after_login(dashboard, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{dashboard}/users")
    fill_login(page, ADMIN, PASSWORD)
    expect(title(page)).to_contain_text("Users", timeout=60_000)
    assert page.url.rstrip("/").endswith("/users")
    page.close()


def test_logging_out_revokes_the_cookie(dashboard, browser):
    page = browser.new_page()
    page.goto(dashboard)
    fill_login(page, ADMIN, PASSWORD)
    page.locator(SIDEBAR).wait_for()
    page.wait_for_function("document.cookie.includes('supportloop_session=')")
    stolen = [c for c in page.context.cookies() if c["name"] == "supportloop_session"]
    assert stolen
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Log in").wait_for()
    page.wait_for_function("!document.cookie.includes('supportloop_session=')")
    assert not [c for c in page.context.cookies() if c["name"] == "supportloop_session"]
    other = browser.new_context()  # someone who copied the cookie before the logout
    other.add_cookies(stolen)
    thief = other.new_page()
    thief.goto(f"{dashboard}/review")
    thief.get_by_role("button", name="Log in").wait_for()
    assert thief.locator(SIDEBAR).count() == 0
    tampered = dict(stolen[0], value=stolen[0]["value"][:-2] + "00")
    other.clear_cookies()
    other.add_cookies([tampered])
    thief.goto(dashboard)
    thief.get_by_role("button", name="Log in").wait_for()
    other.close()
    page.close()


def test_a_password_reset_ends_the_users_logins(app, dashboard, browser):
    open_page(app, "Users")
    add = app.locator('[data-testid="stForm"]').filter(has_text="Add a user")
    add.get_by_role("textbox", name="Name").fill("vic-e2e")
    add.get_by_role("button", name="Add").click()
    shown = app.locator('[data-testid="stAlert"]').filter(has_text="vic-e2e added").inner_text()
    password = shown.rsplit(":", 1)[1].strip()
    vic = browser.new_context().new_page()
    vic.goto(dashboard)
    fill_login(vic, "vic-e2e", password)
    vic.locator(SIDEBAR).wait_for()
    vic.wait_for_function("document.cookie.includes('supportloop_session=')")

    app.reload()  # the new user appears in the reset form's list
    app.locator(SIDEBAR).wait_for()
    settle(app)
    reset = app.locator('[data-testid="stForm"]').filter(has_text="Reset a password")
    choose(app, "User", "vic-e2e", within=reset)
    reset.get_by_role("button", name="Reset password").click()
    app.get_by_text("Password of vic-e2e reset to").wait_for()
    assert "their open logins have ended" in app.locator('[data-testid="stAlert"]').last.inner_text()
    screenshot(app, "25-users-password-reset")
    vic.reload()  # the cookie is still there, but its login was revoked
    vic.get_by_role("button", name="Log in").wait_for()
    assert vic.locator(SIDEBAR).count() == 0
    vic.context.close()
